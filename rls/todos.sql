-- rls/todos.sql: a personal todo is its owner's alone; an organization's
-- todo is shared with the organization's members.
--
-- A todo is personal when organization_id is null: only its owner (user_id)
-- sees or changes it. Otherwise it belongs to that Better Auth organization:
-- every current member reads, creates and updates its todos; only the
-- todo's creator (user_id), an admin or the owner deletes one. A non-member
-- sees nothing of it, not even that it exists.
--
-- user_id defaults to the caller's id, a client cannot update it (no column
-- grant), and every WITH CHECK requires it to be the caller's on a personal
-- todo, so nobody plants a todo in another user's list or turns another
-- member's todo into their own personal one. organization_id may be
-- updated, but the new row must pass the same test as a visible one, so
-- nobody moves a todo into, or out of, an organization they do not belong
-- to.
--
-- Identity comes from app_user_id() and membership from app_memberships()
-- (rls/memberships.sql), both called in the InitPlan form, so each runs at
-- most once per statement, and only when a row needs it: a personal list
-- never reads membership at all.
--
-- The sub-select
--   (select array_agg(m.organization_id) from app_memberships() m)::text[]
-- is "the organizations the caller belongs to"; the cast makes it a scalar
-- array, so = any () compares text with each element.
--
-- The policies that filter reads are written as CASE (personal, else
-- organization), not as an OR of the two: the two forms admit the same
-- rows, but PostgreSQL estimates an OR as far more selective than it is
-- and then sorts a bitmap scan instead of walking the list indexes in
-- order (measured: docs/security-model.md, "Organizations").

alter table todos enable row level security;
alter table todos force row level security;

comment on table todos is
  'Todos. A personal todo (organization_id null) is seen and changed only by its owner, user_id; an organization''s todo by the current members of that Better Auth organization (app_memberships()), and deleted only by its creator, an admin or the owner. Row level security is enabled and forced; the table owner, having no policy, sees nothing.';

alter table todos alter column user_id set default app_user_id();

revoke all on todos from public, rowgate_app;
grant select, delete on todos to rowgate_app;
grant insert (user_id, organization_id, title, description, completed) on todos to rowgate_app;
grant update (organization_id, title, description, completed) on todos to rowgate_app;

create policy todos_select on todos
  as permissive for select to rowgate_app
  using (
    case when organization_id is null
      then user_id = (select app_user_id())
      else organization_id = any ((select array_agg(m.organization_id) from app_memberships() m)::text[])
    end
  );
comment on policy todos_select on todos is
  'A caller reads their own personal todos and every todo of the organizations they are a member of now. Another user''s personal todo, and a todo of an organization the caller is not (or no longer) a member of, are invisible: the API answers 404 for them exactly as for a todo that does not exist.';

create policy todos_insert on todos
  as permissive for insert to rowgate_app
  with check (
    user_id = (select app_user_id())
    and (organization_id is null
         or organization_id = any ((select array_agg(m.organization_id) from app_memberships() m)::text[]))
  );
comment on policy todos_insert on todos is
  'A caller creates todos only as themselves (user_id defaults to app_user_id()), either personal or in an organization they are a member of. Naming another user, or an organization the caller is not a member of (or one that does not exist), fails with 42501; with no identity every insert fails.';

create policy todos_update on todos
  as permissive for update to rowgate_app
  using (
    case when organization_id is null
      then user_id = (select app_user_id())
      else organization_id = any ((select array_agg(m.organization_id) from app_memberships() m)::text[])
    end
  )
  with check (
    case when organization_id is null
      then user_id = (select app_user_id())
      else organization_id = any ((select array_agg(m.organization_id) from app_memberships() m)::text[])
    end
  );
comment on policy todos_update on todos is
  'A caller updates the todos they can read (USING), and the updated row must still be one they can read (WITH CHECK): a todo moves into an organization only by a member of it, out of one only by a member of it, and out to a personal todo only by its creator. Ownership of a personal todo never moves.';

create policy todos_delete on todos
  as permissive for delete to rowgate_app
  using (
    case when organization_id is null
      then user_id = (select app_user_id())
      else organization_id = any ((select array_agg(m.organization_id) from app_memberships() m
                                   where m.roles && array['owner', 'admin'])::text[])
        or (user_id = (select app_user_id())
            and organization_id = any ((select array_agg(m.organization_id) from app_memberships() m)::text[]))
    end
  );
comment on policy todos_delete on todos is
  'A caller deletes their own personal todos; in an organization they are a member of, the todos they created; and, as an owner or admin of an organization, any of its todos. Anything else affects 0 rows.';
