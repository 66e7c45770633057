-- Functions and procedures of the schema: SECURITY DEFINER or not, the
-- search_path they pin (if any), their comment, and for the identity
-- accessor ($2) the full definition.
select p.oid::pg_catalog.regprocedure::text,
       p.prosecdef,
       (select pg_catalog.substr(s, pg_catalog.length('search_path=') + 1)
        from pg_catalog.unnest(p.proconfig) s
        where s like 'search\_path=%'
        limit 1),
       pg_catalog.obj_description(p.oid, 'pg_proc'),
       case when p.proname = $2 and p.prokind = 'f' and p.pronargs = 0
            then pg_catalog.pg_get_functiondef(p.oid) end
from pg_catalog.pg_proc p
join pg_catalog.pg_namespace n on n.oid = p.pronamespace
where n.nspname = $1
order by 1
