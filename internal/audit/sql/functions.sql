-- The functions the audit reports: every function and procedure of the
-- schema ($1), and every SECURITY DEFINER one that a policy of the schema
-- calls ($3, oids as text), wherever it lives. For each:
--   its oid; its signature as PostgreSQL prints it with the schema as
--   search_path, and schema-qualified; its schema and kind;
--   SECURITY DEFINER or not, and the search_path it pins (if any);
--   its owner, whether the owner is a superuser or BYPASSRLS, whether the
--   owner is the role that runs rowgate migrate (owns the schema's tables,
--   or the schema when it has none) and that role's name;
--   whether PUBLIC may execute it; whether it returns trigger; whether it
--   belongs to an extension;
--   the tables and views a BEGIN ATOMIC body reads (NULL for a string body,
--   for which PostgreSQL records no dependencies);
--   its comment; whether it is the identity accessor ($2); and, for the
--   accessor and SECURITY DEFINER functions, the full definition.
with audited as (
  select n.oid,
         case when n.nspowner = 'pg_database_owner'::pg_catalog.regrole
              then (select d.datdba from pg_catalog.pg_database d
                    where d.datname = pg_catalog.current_database())
              else n.nspowner end as owner
  from pg_catalog.pg_namespace n
  where n.nspname = $1
), migrator as (
  -- The role that runs rowgate migrate: the owner of the schema's tables
  -- (every owner, if they differ), or the schema's owner when it has none.
  select coalesce(
           (select pg_catalog.array_agg(distinct c.relowner order by c.relowner)
            from pg_catalog.pg_class c, audited a
            where c.relnamespace = a.oid and c.relkind in ('r', 'p')),
           (select array[a.owner] from audited a)) as roles
)
select p.oid::text,
       p.oid::pg_catalog.regprocedure::text,
       pg_catalog.format('%I.%I(%s)', n.nspname, p.proname, pg_catalog.oidvectortypes(p.proargtypes)),
       n.nspname::text,
       p.prokind::text,
       p.prosecdef,
       (select pg_catalog.substr(s, pg_catalog.length('search_path=') + 1)
        from pg_catalog.unnest(p.proconfig) s
        where s like 'search\_path=%'
        limit 1),
       o.rolname::text,
       o.rolsuper,
       o.rolbypassrls,
       p.proowner = any (m.roles),
       coalesce(pg_catalog.pg_get_userbyid(m.roles[1])::text, ''),
       exists (select 1
               from pg_catalog.aclexplode(coalesce(p.proacl, pg_catalog.acldefault('f', p.proowner))) x
               where x.grantee = 0 and x.privilege_type = 'EXECUTE'),
       p.prorettype in ('pg_catalog.trigger'::pg_catalog.regtype, 'pg_catalog.event_trigger'::pg_catalog.regtype),
       exists (select 1 from pg_catalog.pg_depend d
               where d.classid = 'pg_catalog.pg_proc'::pg_catalog.regclass and d.objid = p.oid and d.deptype = 'e'),
       case when p.prosqlbody is not null then
         array(select distinct pg_catalog.format('%I.%I', rn.nspname, rc.relname)
               from pg_catalog.pg_depend d
               join pg_catalog.pg_class rc on rc.oid = d.refobjid
               join pg_catalog.pg_namespace rn on rn.oid = rc.relnamespace
               where d.classid = 'pg_catalog.pg_proc'::pg_catalog.regclass and d.objid = p.oid
                 and d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass
               order by 1)
       end,
       pg_catalog.obj_description(p.oid, 'pg_proc'),
       n.nspname = $1 and p.proname = $2 and p.prokind = 'f' and p.pronargs = 0,
       case when (n.nspname = $1 and p.proname = $2 and p.prokind = 'f' and p.pronargs = 0) or p.prosecdef
            then pg_catalog.pg_get_functiondef(p.oid) end
from pg_catalog.pg_proc p
join pg_catalog.pg_namespace n on n.oid = p.pronamespace
join pg_catalog.pg_roles o on o.oid = p.proowner
cross join migrator m
where n.nspname = $1 or (p.prosecdef and p.oid::text = any ($3::text[]))
order by 2
