-- The app role ($1) and every role it is a member of, directly or through
-- other roles, each with the attributes that bypass row level security and
-- what it owns in the schema ($2). path is the chain of membership from the
-- app role.
with recursive chain (oid, path) as (
  select r.oid, array[r.rolname::text]
  from pg_catalog.pg_roles r
  where r.rolname = $1
  union all
  select m.roleid, c.path || g.rolname::text
  from chain c
  join pg_catalog.pg_auth_members m on m.member = c.oid
  join pg_catalog.pg_roles g on g.oid = m.roleid
  where not g.rolname::text = any (c.path)
)
select r.rolname::text,
       c.path,
       r.rolsuper,
       r.rolbypassrls,
       r.rolcreaterole,
       r.rolcreatedb,
       r.rolreplication,
       r.rolcanlogin,
       array(
         select o.what from (
           select pg_catalog.format('%s %I.%I',
                    case cl.relkind when 'v' then 'view' when 'm' then 'materialized view'
                                    when 'f' then 'foreign table' else 'table' end,
                    n.nspname, cl.relname) as what
           from pg_catalog.pg_class cl
           join pg_catalog.pg_namespace n on n.oid = cl.relnamespace
           where n.nspname = $2 and cl.relowner = r.oid and cl.relkind in ('r', 'p', 'v', 'm', 'f')
           union all
           select pg_catalog.format('function %I.%s', n.nspname, p.oid::pg_catalog.regprocedure)
           from pg_catalog.pg_proc p
           join pg_catalog.pg_namespace n on n.oid = p.pronamespace
           where n.nspname = $2 and p.proowner = r.oid
         ) o
         order by o.what)
from chain c
join pg_catalog.pg_roles r on r.oid = c.oid
order by pg_catalog.cardinality(c.path), c.path
