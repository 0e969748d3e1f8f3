-- A stand-in for the parts of a Supabase database that plain Postgres lacks.
--
-- Supabase creates all of this itself; this file exists only so that the local stack and the tests can run
-- our migrations on embedded Postgres. It is NOT a migration and is never pushed to a Supabase project.
-- Definitions follow Supabase's own, reduced to what this project touches: the roles and grants of
-- supabase/postgres `migrations/db/init-scripts/*.sql` and `migrations/db/migrations/*.sql` (files named
-- below), and the auth schema of supabase/auth `migrations/`. Idempotent: safe to run on every start.
--
-- It runs as `supabase_admin`, the cluster's superuser, as Supabase's own setup does; everything else
-- (`supabase db push`, the function, the tests) connects as `postgres`, which is not a superuser here either.

-- Roles ------------------------------------------------------------------------------------------------
do $$
begin
  -- Running this as `postgres` would mean `postgres` is the superuser: a cluster made before these roles.
  if current_user <> 'supabase_admin' then
    raise exception 'run the Supabase stand-in as supabase_admin, not %', current_user;
  end if;
  -- Roles are cluster-wide, so create them only once per cluster (init-scripts/00000000000000-initial-schema.sql,
  -- init-scripts/00000000000001-auth-schema.sql).
  if not exists (select from pg_roles where rolname = 'postgres') then
    create role postgres login password 'postgres';
  end if;
  if not exists (select from pg_roles where rolname = 'anon') then
    create role anon nologin;
  end if;
  if not exists (select from pg_roles where rolname = 'authenticated') then
    create role authenticated nologin;
  end if;
  if not exists (select from pg_roles where rolname = 'service_role') then
    create role service_role nologin bypassrls;
  end if;
  if not exists (select from pg_roles where rolname = 'authenticator') then
    create role authenticator login noinherit password 'postgres';
  end if;
  if not exists (select from pg_roles where rolname = 'supabase_auth_admin') then
    create role supabase_auth_admin login noinherit password 'postgres';
  end if;
end
$$;

-- migrations/10000000000000_demote-postgres.sql: `postgres` is not a superuser.
alter role postgres nosuperuser createdb createrole login replication bypassrls;
-- migrations/20230529180330_alter_api_roles_for_inherit.sql: the API roles inherit.
alter role anon inherit;
alter role authenticated inherit;
alter role service_role inherit;
-- init-scripts/00000000000001-auth-schema.sql, migrations/20260821154147_revoke_createrole_from_auth_admin.sql.
alter role supabase_auth_admin noinherit nocreaterole noreplication;
alter role supabase_auth_admin set search_path = auth;
-- init-scripts/00000000000003-post-setup.sql.
alter role postgres set search_path = "$user", public, extensions;

-- PostgREST connects as authenticator and switches to the request's role (initial-schema.sql).
grant anon, authenticated, service_role to authenticator;
-- migrations/20230201083204_grant_auth_roles_to_postgres.sql, and from Postgres 16 on with ADMIN OPTION
-- (migrations/20250605172253_grant_with_admin_to_postgres_16_and_above.sql).
do $$
begin
  if current_setting('server_version_num')::int >= 160000 then
    grant anon, authenticated, service_role to postgres with admin option;
  else
    grant anon, authenticated, service_role to postgres;
  end if;
end
$$;
-- migrations/20240606060239_grant_predefined_roles_to_postgres.sql.
grant pg_read_all_data, pg_signal_backend to postgres;
-- migrations/20250421084701_revoke_admin_roles_from_postgres.sql: `postgres` may not act as the Auth admin.
revoke supabase_auth_admin from postgres;

-- The database -----------------------------------------------------------------------------------------
-- migrations/10000000000000_demote-postgres.sql grants ALL on the database (so `supabase db push` can create
-- its supabase_migrations schema); migrations/20251121141100_supabase_auth_admin_db_grants.sql.
do $$
begin
  execute format('grant all on database %I to postgres', current_database());
  execute format('grant create on database %I to supabase_auth_admin', current_database());
end
$$;

-- Schemas ----------------------------------------------------------------------------------------------
-- init-scripts ran as `postgres` (migrations/db/migrate.sh), so it owns `extensions`.
create schema if not exists extensions authorization postgres;
grant usage on schema extensions to postgres, anon, authenticated, service_role;

-- The public schema is exposed through the Data API, with these default grants for what `postgres` and
-- `supabase_admin` create there (initial-schema.sql; migrations/tests/database/privs.sql checks CREATE).
grant usage, create on schema public to postgres;
grant usage on schema public to anon, authenticated, service_role;
alter default privileges for role postgres, supabase_admin in schema public
  grant all on tables to postgres, anon, authenticated, service_role;
alter default privileges for role postgres, supabase_admin in schema public
  grant all on functions to postgres, anon, authenticated, service_role;
alter default privileges for role postgres, supabase_admin in schema public
  grant all on sequences to postgres, anon, authenticated, service_role;

-- The auth schema belongs to supabase_admin and is run by supabase_auth_admin (auth-schema.sql); `postgres`
-- gets ALL on what Auth creates in it (migrations/20211115181400_update-auth-permissions.sql) but may not
-- create anything there itself (migrations/20250421084701_revoke_admin_roles_from_postgres.sql).
create schema if not exists auth authorization supabase_admin;
grant all on schema auth to supabase_auth_admin;
grant usage on schema auth to postgres, anon, authenticated, service_role;
revoke create on schema auth from postgres;
alter default privileges for role supabase_auth_admin in schema auth grant all on tables to postgres;
alter default privileges for role supabase_auth_admin in schema auth grant all on sequences to postgres;
alter default privileges for role supabase_auth_admin in schema auth grant all on routines to postgres;

-- What follows is Auth's own: created as supabase_auth_admin, as GoTrue runs its migrations.
set role supabase_auth_admin;

-- auth.users and auth.sessions (GoTrue's tables, the columns that matter here) -------------------------
create table if not exists auth.users (
  instance_id uuid,
  id uuid primary key,
  aud varchar(255),
  role varchar(255),
  email varchar(255),
  encrypted_password varchar(255),
  email_confirmed_at timestamptz,
  invited_at timestamptz,
  confirmation_sent_at timestamptz,
  last_sign_in_at timestamptz,
  raw_app_meta_data jsonb,
  raw_user_meta_data jsonb,
  is_super_admin boolean,
  created_at timestamptz,
  updated_at timestamptz,
  phone text unique default null,
  phone_confirmed_at timestamptz,
  confirmed_at timestamptz generated always as (least(email_confirmed_at, phone_confirmed_at)) stored,
  banned_until timestamptz,
  is_sso_user boolean not null default false,
  deleted_at timestamptz,
  is_anonymous boolean not null default false
);
create unique index if not exists users_email_partial_key on auth.users (email) where (is_sso_user = false);

do $$
begin
  if not exists (select from pg_type t join pg_namespace n on n.oid = t.typnamespace
                 where n.nspname = 'auth' and t.typname = 'aal_level') then
    create type auth.aal_level as enum ('aal1', 'aal2', 'aal3');
  end if;
end
$$;

create table if not exists auth.sessions (
  id uuid primary key,
  user_id uuid not null references auth.users (id) on delete cascade,
  created_at timestamptz,
  updated_at timestamptz,
  factor_id uuid,
  aal auth.aal_level,
  not_after timestamptz,
  refreshed_at timestamp,
  user_agent text,
  ip inet
);
create index if not exists sessions_user_id_idx on auth.sessions (user_id);

create table if not exists auth.refresh_tokens (
  instance_id uuid,
  id bigserial primary key,
  token varchar(255) unique,
  user_id varchar(255),
  revoked boolean,
  created_at timestamptz,
  updated_at timestamptz,
  parent varchar(255),
  session_id uuid references auth.sessions (id) on delete cascade
);
create index if not exists refresh_tokens_session_id_revoked_idx on auth.refresh_tokens (session_id, revoked);

-- The columns of auth.users that hold a pending confirmation, recovery or email change: each token is the
-- hex SHA-224 of the address and the mailed code (internal/crypto GenerateTokenHash), '' when none
-- (migrations/00_init_auth_schema, 20210730183235_add_email_change_confirmed,
-- 20220323170000_add_user_reauthentication). Added one by one so that a database kept from before gets them.
alter table auth.users
  add column if not exists confirmation_token varchar(255),
  add column if not exists recovery_token varchar(255),
  add column if not exists recovery_sent_at timestamptz,
  add column if not exists email_change_token_new varchar(255),
  add column if not exists email_change varchar(255),
  add column if not exists email_change_sent_at timestamptz,
  add column if not exists email_change_token_current varchar(255) default '',
  add column if not exists email_change_confirm_status smallint default 0
    check (email_change_confirm_status >= 0 and email_change_confirm_status <= 2),
  add column if not exists reauthentication_token varchar(255) default '',
  add column if not exists reauthentication_sent_at timestamptz;

-- auth.identities: one row per way a user signs in (migrations/20210909172000_create_identities_table,
-- 20221027105023_add_identities_user_id_idx, 20221215195800_add_identities_email_column,
-- 20231117164230_add_id_pkey_identities, as they leave it today). For the email provider, provider_id is
-- the user's id and identity_data holds sub, email, email_verified and phone_verified.
create table if not exists auth.identities (
  provider_id text not null,
  user_id uuid not null references auth.users (id) on delete cascade,
  identity_data jsonb not null,
  provider text not null,
  last_sign_in_at timestamptz,
  created_at timestamptz,
  updated_at timestamptz,
  email text generated always as (lower(identity_data ->> 'email')) stored,
  id uuid primary key default gen_random_uuid(),
  constraint identities_provider_id_provider_unique unique (provider_id, provider)
);
comment on table auth.identities is 'Auth: Stores identities associated to a user.';
comment on column auth.identities.email is
  'Auth: Email is a generated column that references the optional email property in the identity_data';
create index if not exists identities_user_id_idx on auth.identities using btree (user_id);
create index if not exists identities_email_idx on auth.identities (email text_pattern_ops);

-- auth.one_time_tokens: where GoTrue looks a mailed link's token up, one per user and kind
-- (migrations/20240427152123_add_one_time_tokens_table).
do $$
begin
  if not exists (select from pg_type t join pg_namespace n on n.oid = t.typnamespace
                 where n.nspname = 'auth' and t.typname = 'one_time_token_type') then
    create type auth.one_time_token_type as enum (
      'confirmation_token', 'reauthentication_token', 'recovery_token', 'email_change_token_new',
      'email_change_token_current', 'phone_change_token');
  end if;
end
$$;

create table if not exists auth.one_time_tokens (
  id uuid primary key,
  user_id uuid not null references auth.users on delete cascade,
  token_type auth.one_time_token_type not null,
  token_hash text not null,
  relates_to text not null,
  created_at timestamp without time zone not null default now(),
  updated_at timestamp without time zone not null default now(),
  check (char_length(token_hash) > 0)
);
create index if not exists one_time_tokens_token_hash_hash_idx on auth.one_time_tokens using hash (token_hash);
create index if not exists one_time_tokens_relates_to_hash_idx on auth.one_time_tokens using hash (relates_to);
create unique index if not exists one_time_tokens_user_id_token_type_key
  on auth.one_time_tokens (user_id, token_type);

-- MFA: auth.mfa_factors, auth.mfa_challenges and auth.mfa_amr_claims (migrations/20221003041349_add_mfa_schema,
-- 20221011041400_add_mfa_indexes, 20230914180801_add_mfa_factors_user_id_idx, 20240729123726_add_mfa_phone_config,
-- 20240802193726_add_mfa_factors_column_last_challenged_at, 20241009103726_add_web_authn, as they leave them).
do $$
begin
  if not exists (select from pg_type t join pg_namespace n on n.oid = t.typnamespace
                 where n.nspname = 'auth' and t.typname = 'factor_type') then
    create type auth.factor_type as enum ('totp', 'webauthn', 'phone');
  end if;
  if not exists (select from pg_type t join pg_namespace n on n.oid = t.typnamespace
                 where n.nspname = 'auth' and t.typname = 'factor_status') then
    create type auth.factor_status as enum ('unverified', 'verified');
  end if;
end
$$;

create table if not exists auth.mfa_factors (
  id uuid primary key,
  user_id uuid not null references auth.users (id) on delete cascade,
  friendly_name text,
  factor_type auth.factor_type not null,
  status auth.factor_status not null,
  created_at timestamptz not null,
  updated_at timestamptz not null,
  secret text,
  phone text unique default null,
  last_challenged_at timestamptz unique default null
);
comment on table auth.mfa_factors is 'auth: stores metadata about factors';
create unique index if not exists mfa_factors_user_friendly_name_unique
  on auth.mfa_factors (friendly_name, user_id) where trim(friendly_name) <> '';
create index if not exists factor_id_created_at_idx on auth.mfa_factors (user_id, created_at);
create index if not exists mfa_factors_user_id_idx on auth.mfa_factors (user_id);

create table if not exists auth.mfa_challenges (
  id uuid primary key,
  factor_id uuid not null references auth.mfa_factors (id) on delete cascade,
  created_at timestamptz not null,
  verified_at timestamptz,
  ip_address inet not null,
  otp_code text
);
comment on table auth.mfa_challenges is 'auth: stores metadata about challenge requests made';
-- Added, not created, so that a database kept from an earlier run gains them too.
alter table auth.mfa_factors add column if not exists web_authn_credential jsonb null;
alter table auth.mfa_factors add column if not exists web_authn_aaguid uuid null;
alter table auth.mfa_challenges add column if not exists web_authn_session_data jsonb null;
-- 20250925093508_add_last_webauthn_challenge_data.
alter table auth.mfa_factors add column if not exists last_webauthn_challenge_data jsonb null;

create table if not exists auth.mfa_amr_claims (
  session_id uuid not null references auth.sessions (id) on delete cascade,
  created_at timestamptz not null,
  updated_at timestamptz not null,
  authentication_method text not null,
  id uuid primary key,
  constraint mfa_amr_claims_session_id_authentication_method_pkey unique (session_id, authentication_method)
);
comment on table auth.mfa_amr_claims is
  'auth: stores authenticator method reference claims for multi factor authentication';

-- PKCE's flow states: auth.flow_state as supabase/auth's migrations leave it (20230322519590_add_flow_state_table,
-- 20230402418590_add_authentication_method_to_flow_state_table, 20230508135423_add_cleanup_indexes,
-- 20240306115329_add_issued_at_to_flow_state, 20260115000000_add_flow_state_oauth_context).
do $$
begin
  if not exists (select from pg_type t join pg_namespace n on n.oid = t.typnamespace
                 where n.nspname = 'auth' and t.typname = 'code_challenge_method') then
    create type auth.code_challenge_method as enum ('s256', 'plain');
  end if;
end
$$;

create table if not exists auth.flow_state (
  id uuid primary key,
  user_id uuid null,
  auth_code text null,
  code_challenge_method auth.code_challenge_method null,
  code_challenge text null,
  provider_type text not null,
  provider_access_token text null,
  provider_refresh_token text null,
  created_at timestamptz null,
  updated_at timestamptz null,
  authentication_method text not null,
  auth_code_issued_at timestamptz null,
  invite_token text null,
  referrer text null,
  oauth_client_state_id uuid null,
  linking_target_id uuid null,
  email_optional boolean not null default false
);
comment on table auth.flow_state is 'Stores metadata for all OAuth/SSO login flows';
create index if not exists idx_auth_code on auth.flow_state (auth_code);
create index if not exists idx_user_id_auth_method on auth.flow_state (user_id, authentication_method);
create index if not exists flow_state_created_at_idx on auth.flow_state (created_at desc);

-- supabase/auth migrations/20240612123726_enable_rls_update_grants.up.sql: RLS on, with no policy, and
-- `postgres` may pass SELECT on.
alter table auth.users enable row level security;
alter table auth.sessions enable row level security;
alter table auth.refresh_tokens enable row level security;
alter table auth.identities enable row level security;
alter table auth.one_time_tokens enable row level security;
alter table auth.mfa_factors enable row level security;
alter table auth.mfa_challenges enable row level security;
alter table auth.mfa_amr_claims enable row level security;
alter table auth.flow_state enable row level security;
grant select on auth.users, auth.sessions, auth.refresh_tokens, auth.identities, auth.one_time_tokens,
  auth.mfa_factors, auth.mfa_challenges, auth.mfa_amr_claims, auth.flow_state
  to postgres with grant option;

-- The request helpers, as hosted Supabase projects define them today (an empty setting reads as null): PostgREST (and our function) put the verified JWT
-- claims in request.jwt.claims; the older per-claim settings are still honoured.
create or replace function auth.uid() returns uuid
language sql stable
as $$
  select coalesce(
    nullif(current_setting('request.jwt.claim.sub', true), ''),
    (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub')
  )::uuid
$$;

create or replace function auth.role() returns text
language sql stable
as $$
  select coalesce(
    nullif(current_setting('request.jwt.claim.role', true), ''),
    (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'role')
  )::text
$$;

create or replace function auth.email() returns text
language sql stable
as $$
  select coalesce(
    nullif(current_setting('request.jwt.claim.email', true), ''),
    (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'email')
  )::text
$$;

create or replace function auth.jwt() returns jsonb
language sql stable
as $$
  select coalesce(
    nullif(current_setting('request.jwt.claim', true), ''),
    nullif(current_setting('request.jwt.claims', true), '')
  )::jsonb
$$;

reset role;
