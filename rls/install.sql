-- rls/install.sql: the whole row level security of rowgate, in one place.
--
-- This is a tern code package. `rowgate migrate` installs it after the
-- migrations, in one transaction, and keeps the result only if it changes
-- something; `tern code install rls` installs it too. Every statement here is
-- idempotent, and the package is authoritative: it first drops every policy
-- in the schema, so a policy that is not written here does not survive.
--
-- Template data: BetterAuthSchema, the schema of Better Auth's tables
-- (`rowgate migrate --better-auth-schema`, default better_auth; tern.conf's
-- [data] section for tern's CLI).
--
-- Read in this order:
--   identity.sql  who is calling: app_user_id(), the one accessor
--   memberships.sql  their organizations: app_memberships(), read live
--                 from Better Auth's organization plugin
--   reset.sql     drop every existing policy, so only what follows exists
--   users.sql     a user sees and changes only their own row
--   todos.sql     a personal todo is its owner's; an organization's is
--                 shared with its members
--   idempotency_keys.sql  a caller's Idempotency-Key records are theirs alone

{{ template "identity.sql" . }}

{{ template "memberships.sql" . }}

{{ template "reset.sql" . }}

{{ template "users.sql" . }}

{{ template "todos.sql" . }}

{{ template "idempotency_keys.sql" . }}
