-- Tenancy: row-level security and grants.
--
-- The Edge Function runs its transaction as `authenticated` with the caller's verified claims in
-- request.jwt.claims, exactly as PostgREST does, so even a bug in it cannot read another user's rows.
-- `authenticated` may read its own memberships and the tenants it belongs to, and nothing else; it writes
-- nothing directly: provisioning goes through tenancy.resolve_tenant(). `anon` gets nothing at all.
-- Invitations, domain claims and the policy have RLS on and no policy: API roles see none of their rows.

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
