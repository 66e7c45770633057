-- Ordinary and partitioned tables of the schema, with their RLS flags.
select c.relname::text,
       c.relrowsecurity,
       c.relforcerowsecurity,
       pg_catalog.obj_description(c.oid, 'pg_class')
from pg_catalog.pg_class c
join pg_catalog.pg_namespace n on n.oid = c.relnamespace
where n.nspname = $1 and c.relkind in ('r', 'p')
order by c.relname
