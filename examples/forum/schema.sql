-- The forum's schema. Applied at every start (idempotent).
--
-- users and memberships belong to the auth side: the development login
-- reads them to mint a token. The forum's own tables (threads, posts) do
-- not reference them: the forum trusts the token's subject and grants, not
-- a user table.

create table if not exists groups (
    id   int8 primary key,
    name text not null unique
);

create table if not exists users (
    name    text primary key check (name ~ '^[a-z][a-z0-9_]{0,31}$'),
    display text not null,
    -- admin is the admin flag of the token: act in every group.
    admin   boolean not null default false,
    -- valid_after is the user's cut-off: a token issued before it is
    -- refused by every guarded statement ("sign out everywhere"). A
    -- deleted user's tokens are refused too (no row).
    valid_after timestamptz not null default '-infinity'
);
alter table users add column if not exists valid_after timestamptz not null default '-infinity';

-- sessions are the logins: a token carries its session's id (the sid
-- claim) and is refused by every guarded statement once the session is
-- revoked (logout) or the user is deleted.
create table if not exists sessions (
    id         text primary key,
    user_name  text not null references users (name) on delete cascade,
    created_at timestamptz not null default now(),
    revoked_at timestamptz
);
create index if not exists sessions_user_name on sessions (user_name) where revoked_at is null;

create table if not exists memberships (
    user_name text not null references users (name) on delete cascade,
    group_id  int8 not null references groups (id) on delete cascade,
    role      text not null check (role in ('member', 'moderator')),
    primary key (user_name, group_id)
);

create table if not exists threads (
    id         bigserial primary key,
    group_id   int8 not null references groups (id),
    title      text not null check (length(title) between 1 and 200),
    created_by text not null,
    created_at timestamptz not null default now()
);
-- Lists: where group_id = any(...) and id < $before order by id desc limit n.
create index if not exists threads_group_id_id on threads (group_id, id);

create table if not exists posts (
    id         bigserial primary key,
    thread_id  int8 not null references threads (id) on delete cascade,
    author     text not null,
    content    text not null check (length(content) between 1 and 10000),
    created_at timestamptz not null default now(),
    edited_at  timestamptz
);
create index if not exists posts_thread_id_id on posts (thread_id, id);
