-- rls/todos.sql: a todo is visible and changeable only by its owner.
--
-- Ownership is user_id. It defaults to the caller's id, a client cannot
-- update it (no column grant), and the WITH CHECK clauses reject any row
-- whose user_id is not the caller's, so an UPDATE cannot move a todo to
-- another owner and an INSERT cannot plant one in another user's list.

alter table todos enable row level security;
alter table todos force row level security;

comment on table todos is
  'Todos, each owned by one user (user_id). Row level security is enabled and forced: rowgate_app sees and changes only rows whose user_id is app_user_id(); the table owner, having no policy, sees nothing.';

alter table todos alter column user_id set default app_user_id();

revoke all on todos from public, rowgate_app;
grant select, delete on todos to rowgate_app;
grant insert (user_id, title, description, completed) on todos to rowgate_app;
grant update (title, description, completed) on todos to rowgate_app;

create policy todos_select on todos
  as permissive for select to rowgate_app
  using (user_id = (select app_user_id()));
comment on policy todos_select on todos is
  'A caller reads only todos whose user_id is their own app.user_id. Another user''s todo is invisible, so the API answers 404 for it exactly as for a todo that does not exist.';

create policy todos_insert on todos
  as permissive for insert to rowgate_app
  with check (user_id = (select app_user_id()));
comment on policy todos_insert on todos is
  'A caller can create todos only for themselves. user_id defaults to app_user_id(); naming another user fails with 42501, and with no identity set the check is NULL and every insert fails.';

create policy todos_update on todos
  as permissive for update to rowgate_app
  using (user_id = (select app_user_id()))
  with check (user_id = (select app_user_id()));
comment on policy todos_update on todos is
  'A caller updates only their own todos (USING), and the updated row must still be theirs (WITH CHECK), so ownership cannot move.';

create policy todos_delete on todos
  as permissive for delete to rowgate_app
  using (user_id = (select app_user_id()));
comment on policy todos_delete on todos is
  'A caller deletes only their own todos. Deleting another user''s todo affects 0 rows.';
