-- Users are known to rowgate by the id their auth provider gives them (the
-- JWT's `sub`). Better Auth issues 32-character [A-Za-z0-9] ids; any
-- non-empty id of at most 255 characters is accepted, with no uuid assumption.
--
-- Row level security is enabled and forced here, as the table is created, so
-- the table never exists unprotected. The policies themselves live in rls/.

create function set_updated_at() returns trigger
language plpgsql as $$
begin
  new.updated_at := clock_timestamp();
  return new;
end
$$;

comment on function set_updated_at() is
  'Trigger: keeps updated_at truthful on every UPDATE, whatever the client sends.';

create table users (
  id         text primary key
             constraint users_id_length check (char_length(id) between 1 and 255),
  email      text constraint users_email_length check (char_length(email) <= 320),
  name       text constraint users_name_length check (char_length(name) <= 200),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

create trigger users_set_updated_at before update on users
  for each row execute function set_updated_at();

alter table users enable row level security;
alter table users force row level security;

---- create above / drop below ----

drop table users;
drop function set_updated_at();
