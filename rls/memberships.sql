-- rls/memberships.sql: which organizations the caller belongs to, read live
-- from Better Auth's organization plugin.
--
-- Better Auth keeps organizations in its own schema (`rowgate migrate
-- --better-auth-schema`, default better_auth): tables "organization" (id,
-- name, ...) and "member" ("organizationId", "userId", role), where role
-- holds one or more of owner, admin and member, comma-separated. rowgate
-- keeps no copy: a member removed there loses access on their next request.
--
-- app_memberships() is the one function that reads those tables: the
-- caller's memberships, one row per organization, with the caller's roles
-- there. The organization's name costs a join, which the policies never
-- need, so it is read only when asked for: app_memberships(true), for GET
-- /v1/organizations; the policies call app_memberships() and get a null
-- name. (Better Auth deletes an organization's member rows with it, so the
-- member table alone says which organizations the caller belongs to.) It
-- is SECURITY DEFINER, so it reads them with the rights of its owner (the role
-- that runs `rowgate migrate`, which needs USAGE on the schema and SELECT on
-- the two tables: docs/better-auth.md), while rowgate_app has no privilege
-- there at all. It returns the caller's own memberships only: its WHERE
-- clause is fixed to app_user_id(). Its search_path is pinned and every name
-- in it is schema-qualified, so no caller can make it resolve an object of
-- their own.
--
-- The body depends on what exists: with Better Auth's organization tables
-- the real one; without them (no organization plugin) a function with the
-- same signature that returns no rows, so that nobody is a member of
-- anything and everything works as before. The next `rowgate migrate` after
-- Better Auth creates its tables installs the real one. Tables that exist
-- but that the migrating role may not read stop the migration, with the
-- grants to run in the hint.
--
-- It is written for speed, measured (20 memberships, one call in a loop):
-- PL/pgSQL, since a SQL function that cannot be inlined (SECURITY
-- DEFINER, SET search_path) is parsed and planned again on every call
-- (about 0.4 ms); no join unless names are asked for, and roles split
-- with string_to_array rather than unnest and btrim per role: 22 µs a
-- call, against 58 µs with both. Better Auth stores roles normalized
-- ("admin,owner"); spaces and empty entries are dropped all the same.
--
-- Policies call it in the InitPlan form, at most once per statement:
--   organization_id = any ((select array_agg(organization_id) from app_memberships())::text[])
-- (the cast makes the sub-select a scalar, not ANY (subquery), which would
-- compare text with text[]).

do $memberships$
declare
  auth_schema constant text := '{{ .BetterAuthSchema }}';
  app_schema  constant text := pg_catalog.current_schema();
  tables      oid[];
  body        text;
begin
  if auth_schema !~ '^[a-z_][a-z0-9_]{0,62}$' then
    raise exception 'Better Auth schema name "%" is not a lowercase identifier', auth_schema;
  end if;
  -- The catalog, not to_regclass: naming a relation in a schema without
  -- USAGE is an error, and the point here is to find out.
  select pg_catalog.array_agg(c.oid order by c.relname) into tables
  from pg_catalog.pg_class c
  join pg_catalog.pg_namespace n on n.oid = c.relnamespace
  where n.nspname = auth_schema and c.relname in ('member', 'organization') and c.relkind in ('r', 'p');

  if pg_catalog.cardinality(tables) is distinct from 2 then
    body := 'begin return; end';
  elsif not (pg_catalog.has_schema_privilege(auth_schema, 'usage')
             and pg_catalog.has_table_privilege(tables[1], 'select')
             and pg_catalog.has_table_privilege(tables[2], 'select')) then
    raise exception using
      errcode = 'insufficient_privilege',
      message = pg_catalog.format('%I cannot read Better Auth''s organization tables in schema %I', current_user, auth_schema),
      hint = pg_catalog.format('As their owner, run: grant usage on schema %1$I to %2$I; grant select on %1$I.organization, %1$I.member to %2$I;',
                               auth_schema, current_user);
  else
    body := pg_catalog.format($body$
begin
  if with_names then
    return query
    select m."organizationId", o.name,
           pg_catalog.array_remove(pg_catalog.string_to_array(pg_catalog.replace(m.role, ' ', ''), ','), '')
    from %1$I.member m
    join %1$I.organization o on o.id = m."organizationId"
    where m."userId" = %2$I.app_user_id();
  else
    return query
    select m."organizationId", null::text,
           pg_catalog.array_remove(pg_catalog.string_to_array(pg_catalog.replace(m.role, ' ', ''), ','), '')
    from %1$I.member m
    where m."userId" = %2$I.app_user_id();
  end if;
end
$body$, auth_schema, app_schema);
  end if;

  execute pg_catalog.format($create$
create or replace function %I.app_memberships(with_names boolean default false)
returns table (organization_id text, name text, roles text[])
language plpgsql
stable
security definer
set search_path = pg_catalog, pg_temp
as %L$create$, app_schema, body);
end
$memberships$;

comment on function app_memberships(boolean) is
  'The caller''s memberships in Better Auth organizations (organization id, the caller''s roles there, and the organization''s name when with_names), read live from Better Auth''s member and organization tables. SECURITY DEFINER with a pinned search_path: it reads those tables with its owner''s rights, rowgate_app has none there, and it returns only rows whose userId is app_user_id() (none without an identity). Without Better Auth''s organization tables it returns no rows. Policies call it once per statement, as (select array_agg(organization_id) from app_memberships()).';

revoke all on function app_memberships(boolean) from public;
grant execute on function app_memberships(boolean) to rowgate_app;
