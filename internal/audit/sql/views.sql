-- Views of the schema and whether they run with the caller's rights.
select c.relname::text,
       coalesce((select o.option_value::boolean
                 from pg_catalog.pg_options_to_table(c.reloptions) o
                 where o.option_name = 'security_invoker'), false),
       pg_catalog.obj_description(c.oid, 'pg_class')
from pg_catalog.pg_class c
join pg_catalog.pg_namespace n on n.oid = c.relnamespace
where n.nspname = $1 and c.relkind = 'v'
order by c.relname
