-- rls/identity.sql: who is calling, as PostgreSQL sees it.
--
-- The API verifies the caller's JWT, then runs each request in one
-- transaction that begins with set_config('app.user_id', <sub>, true). The
-- third argument makes the setting transaction-local: it ends with the
-- transaction, so a pooled connection (PgBouncer in transaction mode, as on
-- Neon) never carries one caller's identity into another's transaction.
--
-- Policies call the accessor as (select app_user_id()), so PostgreSQL
-- evaluates it once per statement (an InitPlan), not once per row.

create or replace function app_user_id() returns text
language sql
stable
as $$
  select nullif(pg_catalog.current_setting('app.user_id', true), '')
$$;

comment on function app_user_id() is
  'The caller''s user id for row level security: the transaction-local setting app.user_id, set by the API from the verified JWT''s sub. Unset and empty both read as NULL, and NULL equals nothing, so a transaction without an identity sees no row and can write none (fail closed). Policies call it as (select app_user_id()) so it is evaluated once per statement.';

revoke all on function app_user_id() from public;
grant execute on function app_user_id() to rowgate_app;
