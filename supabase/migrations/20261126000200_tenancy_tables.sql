-- Tenancy: tables and the indexes their lookups and policies use.
-- Invitations, domain claims and the policy are administered with SQL (as `postgres`): RLS is on for them
-- with no policy (see the next migration), so API roles see none of their rows.

-- ============================================================================================
-- Tenants
-- ============================================================================================
create table tenancy.tenants (
  id uuid primary key default gen_random_uuid(),
  external_id text unique check (external_id <> '' and length(external_id) <= 255),
  name text not null check (length(name) between 1 and 200),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
comment on table tenancy.tenants is
  'Organisations that users belong to. The backend JWT''s tenant_id claim is external_id when set, else id.';
comment on column tenancy.tenants.external_id is
  'The id the Python backend already uses for this tenant, so existing backend data keeps its keys.';

-- ============================================================================================
-- Memberships
-- ============================================================================================
create table tenancy.memberships (
  tenant_id uuid not null references tenancy.tenants (id) on delete cascade,
  user_id uuid not null references auth.users (id) on delete cascade,
  role text not null default 'user' check (role ~ '^[a-z][a-z0-9_]{0,31}$'),
  is_default boolean not null default false,
  created_at timestamptz not null default now(),
  primary key (tenant_id, user_id)
);
comment on table tenancy.memberships is
  'Which users belong to which tenants, with the role the backend JWT carries. Deleting the user removes them.';
comment on column tenancy.memberships.is_default is
  'The tenant an exchange picks when the caller names none. At most one per user.';

-- Every exchange looks memberships up by user; the RLS policies filter on user_id too.
create index memberships_user_id_idx on tenancy.memberships (user_id);
create unique index memberships_one_default_per_user on tenancy.memberships (user_id) where is_default;

-- ============================================================================================
-- Invitations
-- ============================================================================================
create table tenancy.invitations (
  id uuid primary key default gen_random_uuid(),
  tenant_id uuid not null references tenancy.tenants (id) on delete cascade,
  email text not null check (email = lower(email) and email like '_%@_%'),
  role text not null default 'user' check (role ~ '^[a-z][a-z0-9_]{0,31}$'),
  invited_by uuid references auth.users (id) on delete set null,
  expires_at timestamptz not null default now() + interval '7 days',
  accepted_at timestamptz,
  accepted_by uuid references auth.users (id) on delete set null,
  created_at timestamptz not null default now()
);
comment on table tenancy.invitations is
  'Invitations by email, accepted on the invitee''s first exchange once their email is confirmed; an expired or accepted one never matches.';
comment on column tenancy.invitations.email is
  'Lower-cased; matched against auth.users.email, never against anything the caller sends.';

create index invitations_pending_email_idx on tenancy.invitations (email) where accepted_at is null;
create index invitations_tenant_id_idx on tenancy.invitations (tenant_id);

-- ============================================================================================
-- Email-domain claims
-- ============================================================================================
create table tenancy.domain_claims (
  domain text primary key
    check (domain = lower(domain) and domain ~ '^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$'),
  tenant_id uuid not null references tenancy.tenants (id) on delete cascade,
  role text not null default 'user' check (role ~ '^[a-z][a-z0-9_]{0,31}$'),
  created_at timestamptz not null default now()
);
comment on table tenancy.domain_claims is
  'Users with a confirmed email at exactly this domain (subdomains do not match) join the tenant on their first exchange.';

create index domain_claims_tenant_id_idx on tenancy.domain_claims (tenant_id);

-- ============================================================================================
-- Provisioning policy
-- ============================================================================================
create table tenancy.provisioning_policy (
  position smallint primary key check (position > 0),
  strategy text not null unique check (strategy in ('invitation', 'domain', 'personal', 'default')),
  default_tenant_id uuid references tenancy.tenants (id) on delete restrict,
  role text check (role ~ '^[a-z][a-z0-9_]{0,31}$'),
  check ((strategy = 'default') = (default_tenant_id is not null)),
  check (strategy in ('personal', 'default') or role is null)
);
comment on table tenancy.provisioning_policy is
  'How a user with no membership gets one, tried in order of position; when none applies the exchange answers 403 no_tenant. Never chosen by the caller.';
comment on column tenancy.provisioning_policy.role is
  'Role for the personal and default strategies (user when null); invitations and domain claims carry their own.';

create index provisioning_policy_default_tenant_id_idx on tenancy.provisioning_policy (default_tenant_id);

-- Fail closed: only strategies that need an administrator's action (an invitation, a domain claim) are on
-- by default. Add (3, 'personal') or (3, 'default', <tenant>) to give every new user a tenant.
insert into tenancy.provisioning_policy (position, strategy) values (1, 'invitation'), (2, 'domain');
