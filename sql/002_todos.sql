-- A todo belongs to exactly one user. user_id defaults to the caller's id
-- (the default is set with the policies in rls/todos.sql), so a client never
-- needs to, and through the API never can, name an owner.

create table todos (
  id          uuid primary key default gen_random_uuid(),
  user_id     text not null references users (id) on delete cascade,
  title       text not null
              constraint todos_title_length check (char_length(title) between 1 and 500)
              constraint todos_title_not_blank check (title ~ '[^[:space:]]'),
  description text
              constraint todos_description_length check (char_length(description) <= 10000),
  completed   boolean not null default false,
  created_at  timestamptz not null default now(),
  updated_at  timestamptz not null default now()
);

-- Serves "the caller's todos, newest first, keyset-paginated" with no Sort
-- node, and leads with user_id, the column every policy compares.
create index todos_user_id_created_at_id_idx on todos (user_id, created_at desc, id desc);

create trigger todos_set_updated_at before update on todos
  for each row execute function set_updated_at();

alter table todos enable row level security;
alter table todos force row level security;

---- create above / drop below ----

drop table todos;
