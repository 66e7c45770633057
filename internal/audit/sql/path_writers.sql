-- For each schema named in the pinned search_path of a SECURITY DEFINER
-- function ($1 function oids and $2 schema names, as parallel arrays):
-- whether the schema exists, and the login roles that could create objects
-- in it (or, when it does not exist, create it) other than the function's
-- owner. Superusers, members of a superuser role and members of the owner
-- are left out: they can act as the owner anyway. A role counts when it,
-- or a role it is a member of, holds CREATE.
select s.fn,
       s.name,
       n.oid is not null,
       array(
         select r.rolname::text
         from pg_catalog.pg_roles r
         where r.rolcanlogin and not r.rolsuper and r.oid <> p.proowner
           and not pg_catalog.pg_has_role(r.oid, p.proowner, 'MEMBER')
           and not exists (select 1 from pg_catalog.pg_roles su
                           where su.rolsuper and pg_catalog.pg_has_role(r.oid, su.oid, 'MEMBER'))
           and exists (
             select 1 from pg_catalog.pg_roles g
             where pg_catalog.pg_has_role(r.oid, g.oid, 'MEMBER')
               and case when n.oid is null
                        then pg_catalog.has_database_privilege(g.oid, pg_catalog.current_database(), 'CREATE')
                        else pg_catalog.has_schema_privilege(g.oid, n.oid, 'CREATE') end)
         order by 1)
from rows from (pg_catalog.unnest($1::text[]), pg_catalog.unnest($2::text[])) as s (fn, name)
join pg_catalog.pg_proc p on p.oid::text = s.fn
left join pg_catalog.pg_namespace n on n.nspname = s.name
