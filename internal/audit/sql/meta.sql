-- Who and where the audit runs, and whether the schema exists.
select pg_catalog.current_database()::text,
       current_user::text,
       pg_catalog.current_setting('server_version'),
       pg_catalog.current_setting('server_version_num')::int,
       exists (select 1 from pg_catalog.pg_namespace n where n.nspname = $1)
