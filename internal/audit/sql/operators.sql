-- Names of the operators ($1, oids as text) that appear in policies.
select o.oid::text, o.oprname::text
from pg_catalog.pg_operator o
where o.oid::text = any ($1::text[])
