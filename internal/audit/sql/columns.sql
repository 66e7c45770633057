-- The columns of the schema's tables, and whether some valid index has the
-- column as its first key (a primary key or unique constraint counts).
select c.relname::text,
       a.attnum::int,
       a.attname::text,
       exists (select 1 from pg_catalog.pg_index i
               where i.indrelid = c.oid and i.indisvalid and i.indkey[0] = a.attnum)
from pg_catalog.pg_attribute a
join pg_catalog.pg_class c on c.oid = a.attrelid
join pg_catalog.pg_namespace n on n.oid = c.relnamespace
where n.nspname = $1 and c.relkind in ('r', 'p') and a.attnum > 0 and not a.attisdropped
order by c.relname, a.attnum
