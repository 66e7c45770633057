-- rls/reset.sql: start from nothing.
--
-- Drops every policy on every table of the current schema, so that after
-- install the live policies are exactly the ones written in this package.
-- A policy added by hand, or one removed from these files, does not survive
-- the next `rowgate migrate`.

do $$
declare
  p record;
begin
  for p in
    select schemaname, tablename, policyname
    from pg_catalog.pg_policies
    where schemaname = current_schema()
  loop
    execute format('drop policy %I on %I.%I', p.policyname, p.schemaname, p.tablename);
  end loop;
end
$$;

grant usage on schema public to rowgate_app;
