-- Tenancy: row-level security and grants.
--
-- The Edge Function runs its transaction as `authenticated` with the caller's verified claims in
-- request.jwt.claims, exactly as PostgREST does, so even a bug in it cannot read another user's rows.
-- `authenticated` may read its own memberships and the tenants it belongs to, and nothing else; it writes
-- nothing directly: provisioning goes through tenancy.resolve_tenant(). `anon` gets nothing at all.

alter table tenancy.tenants enable row level security;
alter table tenancy.memberships enable row level security;
alter table tenancy.invitations enable row level security;
alter table tenancy.domain_claims enable row level security;
alter table tenancy.provisioning_policy enable row level security;

grant select on tenancy.tenants, tenancy.memberships to authenticated;

-- ============================================================================================
-- RLS Policies
-- ============================================================================================
create policy "Users can view their own memberships" on tenancy.memberships
  for select to authenticated
  using (user_id = (select auth.uid()));
comment on policy "Users can view their own memberships" on tenancy.memberships is
  'A user sees the rows that make them a member, never other members'' rows.';

create policy "Tenants are viewable by their members" on tenancy.tenants
  for select to authenticated
  using (id in (select m.tenant_id from tenancy.memberships m where m.user_id = (select auth.uid())));
comment on policy "Tenants are viewable by their members" on tenancy.tenants is
  'A user sees the tenants they belong to (the subquery is itself limited to their own memberships).';

comment on table tenancy.invitations is
  'Invitations by email. Accepted on the invitee''s first exchange, and only once their email is confirmed. RLS on, no policy: API roles see none.';
comment on table tenancy.domain_claims is
  'Users with a confirmed email at this exact domain join the tenant on their first exchange. Subdomains do not match. RLS on, no policy: API roles see none.';
comment on table tenancy.provisioning_policy is
  'How a user with no membership gets one, tried in order of position. When none applies the exchange answers 403 no_tenant. Existing memberships always come first. RLS on, no policy: API roles see none.';
