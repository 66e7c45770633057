-- An Idempotency-Key (draft-ietf-httpapi-idempotency-key-header) makes a
-- create safe to retry: the first request with a key creates the todo and
-- keeps its response here; a retry with the same key and the same request
-- gets that response back and creates nothing.
--
-- A key belongs to one caller: user_id defaults to the caller's id (set
-- with the policies in rls/idempotency_keys.sql) and the primary key leads
-- with it, so two users' keys never meet. Keys expire (24 h by default);
-- a caller's expired keys are deleted by their next keyed create.

create table idempotency_keys (
  user_id     text not null references users (id) on delete cascade,
  key         text not null
              constraint idempotency_keys_key_length check (char_length(key) between 1 and 255),
  fingerprint bytea not null
              constraint idempotency_keys_fingerprint_length check (octet_length(fingerprint) = 32),
  response    jsonb not null,
  created_at  timestamptz not null default now(),
  expires_at  timestamptz not null
              constraint idempotency_keys_expires_at_after_created check (expires_at > created_at),
  primary key (user_id, key)
);

-- Serves the purge of a caller's expired keys.
create index idempotency_keys_user_id_expires_at_idx on idempotency_keys (user_id, expires_at);

alter table idempotency_keys enable row level security;
alter table idempotency_keys force row level security;

---- create above / drop below ----

drop table idempotency_keys;
