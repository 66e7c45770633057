-- The functions that read the caller's identity: the accessor ($2) in the
-- schema ($1), and pg_catalog.current_setting, which it wraps.
select p.oid::text, p.proname::text
from pg_catalog.pg_proc p
join pg_catalog.pg_namespace n on n.oid = p.pronamespace
where (n.nspname = 'pg_catalog' and p.proname = 'current_setting')
   or (n.nspname = $1 and p.proname = $2)
