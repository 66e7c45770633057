-- The policies of the current schema as pg_policies prints them; read
-- before and after installing rls/ in a transaction that is rolled back.
select p.tablename::text,
       p.policyname::text,
       p.cmd,
       p.roles::text[],
       p.permissive = 'PERMISSIVE',
       p.qual,
       p.with_check
from pg_catalog.pg_policies p
where p.schemaname = pg_catalog.current_schema()
order by p.tablename, p.policyname
