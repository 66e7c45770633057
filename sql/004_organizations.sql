-- A todo is either personal (organization_id is null: as before, visible
-- only to its owner) or shared with a Better Auth organization
-- (organization_id is that organization's id, visible to its members).
-- user_id stays the todo's creator.
--
-- Membership lives in Better Auth's own tables (organization, member), in
-- its own schema; rowgate keeps no copy of it. There is no foreign key to
-- them: they may not exist (no organization plugin), and they belong to
-- another application. The policies in rls/todos.sql read membership live,
-- through app_memberships() (rls/memberships.sql).

alter table todos add column organization_id text
  constraint todos_organization_id_length check (char_length(organization_id) between 1 and 255);

-- The caller's personal todos, newest first: the list asks for
-- `user_id = me and organization_id is null order by created_at desc, id
-- desc`. The second column is the boolean (organization_id is null), which
-- that condition fixes to true, so PostgreSQL walks one key range in order
-- with no Sort and never reads the caller's organization todos. A partial
-- index (where organization_id is null) would serve the list as well, but
-- not the foreign key: deleting a user cascades with `where user_id = $1`
-- over all of their todos, which only an index leading with user_id over
-- every row serves (measured at 1M todos: 263 ms by a sequential scan, 61 ms
-- through this index). The name stays, and so does the leading column.
create index todos_user_id_created_at_id_new_idx on todos (user_id, (organization_id is null), created_at desc, id desc);
drop index todos_user_id_created_at_id_idx;
alter index todos_user_id_created_at_id_new_idx rename to todos_user_id_created_at_id_idx;

-- An organization's todos, newest first, with no Sort.
create index todos_organization_id_created_at_id_idx on todos (organization_id, created_at desc, id desc)
  where organization_id is not null;

---- create above / drop below ----

drop index todos_organization_id_created_at_id_idx;
create index todos_user_id_created_at_id_old_idx on todos (user_id, created_at desc, id desc);
drop index todos_user_id_created_at_id_idx;
alter index todos_user_id_created_at_id_old_idx rename to todos_user_id_created_at_id_idx;
alter table todos drop column organization_id;
