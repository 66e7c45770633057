-- The functions that policies of the schema ($1) call ($2, oids as text),
-- for policy_per_row_call: a name to print (qualified unless it is in the
-- schema or pg_catalog), its volatility (i, s or v), its language and its
-- result type.
select p.oid::text,
       case when n.nspname in ($1, 'pg_catalog') then pg_catalog.quote_ident(p.proname)
            else pg_catalog.format('%I.%I', n.nspname, p.proname) end,
       p.provolatile::text,
       l.lanname::text,
       pg_catalog.format_type(p.prorettype, null)
from pg_catalog.pg_proc p
join pg_catalog.pg_namespace n on n.oid = p.pronamespace
join pg_catalog.pg_language l on l.oid = p.prolang
where p.oid::text = any ($2::text[])
