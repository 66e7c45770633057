-- rls/idempotency_keys.sql: a caller sees and uses only their own keys.
--
-- A key is scoped to its caller: user_id defaults to the caller's id, the
-- WITH CHECK clauses refuse any other, and no policy lets one caller read,
-- replay or delete another's key. Nobody may change a key once written (no
-- UPDATE grant; the policy below only keeps the matrix complete).

alter table idempotency_keys enable row level security;
alter table idempotency_keys force row level security;

comment on table idempotency_keys is
  'Idempotency-Key records: the response of the first create under each (caller, key), replayed to retries. Row level security is enabled and forced: rowgate_app sees, writes and deletes only rows whose user_id is app_user_id(); the table owner, having no policy, sees nothing.';

alter table idempotency_keys alter column user_id set default app_user_id();

revoke all on idempotency_keys from public, rowgate_app;
grant select, delete on idempotency_keys to rowgate_app;
grant insert (user_id, key, fingerprint, response, expires_at) on idempotency_keys to rowgate_app;

create policy idempotency_keys_select on idempotency_keys
  as permissive for select to rowgate_app
  using (user_id = (select app_user_id()));
comment on policy idempotency_keys_select on idempotency_keys is
  'A caller reads only their own keys, so a retry can only ever replay a response that caller was given.';

create policy idempotency_keys_insert on idempotency_keys
  as permissive for insert to rowgate_app
  with check (user_id = (select app_user_id()));
comment on policy idempotency_keys_insert on idempotency_keys is
  'A caller records keys only for themselves; naming another user fails with 42501, and with no identity every insert fails.';

create policy idempotency_keys_update on idempotency_keys
  as permissive for update to rowgate_app
  using (user_id = (select app_user_id()))
  with check (user_id = (select app_user_id()));
comment on policy idempotency_keys_update on idempotency_keys is
  'No UPDATE is granted: a recorded response never changes. Were it granted, a caller could still touch only their own keys.';

create policy idempotency_keys_delete on idempotency_keys
  as permissive for delete to rowgate_app
  using (user_id = (select app_user_id()));
comment on policy idempotency_keys_delete on idempotency_keys is
  'A caller deletes only their own keys (the expired ones, before each keyed create).';
