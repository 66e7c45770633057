-- Every policy of the schema as pg_policies prints it, with its stored
-- expression trees (for the expression rules) and its COMMENT ON text.
select p.tablename::text,
       p.policyname::text,
       p.cmd,
       p.roles::text[],
       p.permissive = 'PERMISSIVE',
       p.qual,
       p.with_check,
       pol.polqual::text,
       pol.polwithcheck::text,
       pg_catalog.obj_description(pol.oid, 'pg_policy')
from pg_catalog.pg_policies p
join pg_catalog.pg_namespace n on n.nspname = p.schemaname
join pg_catalog.pg_class c on c.relnamespace = n.oid and c.relname = p.tablename
join pg_catalog.pg_policy pol on pol.polrelid = c.oid and pol.polname = p.policyname
where p.schemaname = $1
order by p.tablename, p.policyname
