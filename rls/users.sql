-- rls/users.sql: a user sees and changes only their own row.
--
-- A users row is created on the caller's first request, from the token's
-- sub, email and name. Only the name can be changed through the API; the id
-- never can, so the row cannot be handed to someone else.

alter table users enable row level security;
alter table users force row level security;

comment on table users is
  'One row per user of the auth provider, keyed by the JWT sub. Row level security is enabled and forced: rowgate_app sees and changes only the row whose id is app_user_id(); the table owner, having no policy, sees nothing.';

revoke all on users from public, rowgate_app;
grant select, delete on users to rowgate_app;
grant insert (id, email, name) on users to rowgate_app;
grant update (name) on users to rowgate_app;

create policy users_select on users
  as permissive for select to rowgate_app
  using (id = (select app_user_id()));
comment on policy users_select on users is
  'A caller reads only the users row whose id is their own app.user_id. With no identity set, app_user_id() is NULL and no row matches.';

create policy users_insert on users
  as permissive for insert to rowgate_app
  with check (id = (select app_user_id()));
comment on policy users_insert on users is
  'A caller can create only their own users row (id = app.user_id); provisioning on first request. Any other id fails with 42501.';

create policy users_update on users
  as permissive for update to rowgate_app
  using (id = (select app_user_id()))
  with check (id = (select app_user_id()));
comment on policy users_update on users is
  'A caller updates only their own row (USING), and the row must still be theirs afterwards (WITH CHECK). The column grant allows only name to change.';

create policy users_delete on users
  as permissive for delete to rowgate_app
  using (id = (select app_user_id()));
comment on policy users_delete on users is
  'A caller deletes only their own row; their todos go with it (on delete cascade).';
