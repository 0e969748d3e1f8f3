-- Tenancy: the audit trail of tenants managed from the app.
--
-- Every change made through the management functions (a tenant created or renamed; an invitation sent,
-- revoked, accepted or declined, or its mail failing; a role changed; a member removed or leaving) is one
-- row here, written by tenancy_private.audit() inside the transaction that makes the change: a change that
-- rolls back leaves no row, and no change is made without one. The exchange's acceptance of an invitation
-- writes the same row as the invitee's own (20261128150600).
--
-- Rows keep the actor's and the target's address as they were, so the trail reads the same after a user is
-- deleted (their ids then become null); a deleted tenant takes its trail with it. Only the tenant's owners
-- and admins may read it (a policy, for direct reads; tenancy.list_audit for the function).

create table tenancy.audit_log (
  id bigint generated always as identity primary key,
  tenant_id uuid not null references tenancy.tenants (id) on delete cascade,
  at timestamptz not null default now(),
  actor_id uuid references auth.users (id) on delete set null,
  actor_email text,
  action text not null check (action in (
    'tenant.created', 'tenant.renamed',
    'invitation.created', 'invitation.mail_failed', 'invitation.revoked', 'invitation.accepted',
    'invitation.declined',
    'member.role_changed', 'member.removed', 'member.left'
  )),
  target_user_id uuid references auth.users (id) on delete set null,
  target_email text,
  -- No foreign key: a revoked or declined invitation is deleted, its trail stays.
  invitation_id uuid,
  before jsonb,
  after jsonb
);
comment on table tenancy.audit_log is
  'One row per change made to a tenant from the app or by an exchange accepting an invitation: who (actor), what (action), to whom (target), before/after, when. Written by the transaction that makes the change; readable by the tenant''s owners and admins.';
comment on column tenancy.audit_log.actor_email is
  'The actor''s address when they acted (it outlives the user).';
comment on column tenancy.audit_log.target_email is
  'The target''s address when it happened: the member''s, or the invitation''s.';
comment on column tenancy.audit_log.before is
  'The changed fields before the change (e.g. {"role": "admin"}), null when something was created.';
comment on column tenancy.audit_log.after is
  'The changed fields after the change, null when something was removed.';

-- The trail is read newest first per tenant; the per-hour invitation limit counts a user's sends.
create index audit_log_tenant_id_id_idx on tenancy.audit_log (tenant_id, id desc);
create index audit_log_invitations_sent_idx on tenancy.audit_log (actor_id, at)
  where action = 'invitation.created';
-- The foreign keys' own lookups when a user is deleted.
create index audit_log_target_user_id_idx on tenancy.audit_log (target_user_id);

alter table tenancy.audit_log enable row level security;
grant select on tenancy.audit_log to authenticated;

-- The policy's subquery reads the caller's own memberships, which their own policy lets them see; the
-- memberships index on user_id serves it.
create policy "Audit entries are viewable by the tenant's owners and admins" on tenancy.audit_log
  for select to authenticated
  using (tenant_id in (select m.tenant_id from tenancy.memberships m
                        where m.user_id = (select auth.uid()) and m.role in ('owner', 'admin')));
comment on policy "Audit entries are viewable by the tenant's owners and admins" on tenancy.audit_log is
  'Managers read their tenant''s trail; other members, and everyone else, see none of it.';

-- ============================================================================================
-- The writer
-- ============================================================================================
create function tenancy_private.audit(
  p_tenant_id uuid,
  p_actor_id uuid,
  p_action text,
  p_target_user_id uuid default null,
  p_target_email text default null,
  p_invitation_id uuid default null,
  p_before jsonb default null,
  p_after jsonb default null
)
returns void
language plpgsql security definer set search_path = ''
as $$
begin
  insert into tenancy.audit_log (tenant_id, actor_id, actor_email, action, target_user_id, target_email,
                                 invitation_id, before, after)
  values (
    p_tenant_id, p_actor_id, (select lower(u.email) from auth.users u where u.id = p_actor_id), p_action,
    p_target_user_id,
    coalesce(p_target_email, (select lower(u.email) from auth.users u where u.id = p_target_user_id)),
    p_invitation_id, p_before, p_after
  );
end;
$$;
comment on function tenancy_private.audit(uuid, uuid, text, uuid, text, uuid, jsonb, jsonb) is
  'Writes one tenancy.audit_log row in the caller''s transaction, with the actor''s (and, unless given, the target user''s) current address.';

revoke all on function tenancy_private.audit(uuid, uuid, text, uuid, text, uuid, jsonb, jsonb)
  from public, anon, authenticated;
