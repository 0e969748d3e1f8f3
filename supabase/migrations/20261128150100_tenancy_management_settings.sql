-- Tenancy: the operator's settings for tenants managed from the app.
--
-- The `tenants` and `invitations` Edge Functions let users run their own tenants (docs/tenants.md). What
-- they may do beyond their roles is the operator's call, kept here as one row rather than as function
-- settings, so that the SQL functions that enforce them read them in the same transaction and every
-- deployment of the functions agrees:
--   self_service_tenants                 whether any signed-in user may create a tenant (off: fail closed,
--                                        tenants are the operator's unless they say otherwise);
--   max_pending_invitations_per_tenant   a tenant's pending invitations (each one may send a mail);
--   max_invitations_per_manager_per_hour invitations one user sends in an hour, all tenants together, so a
--                                        manager's account cannot be used to mail strangers in bulk;
--   invitation_ttl                       how long an invitation stays pending.
-- Change them with SQL: `update tenancy.management_settings set self_service_tenants = true;`

create table tenancy.management_settings (
  -- One row: the primary key can only be true.
  id boolean primary key default true check (id),
  self_service_tenants boolean not null default false,
  max_pending_invitations_per_tenant integer not null default 100 check (max_pending_invitations_per_tenant >= 0),
  max_invitations_per_manager_per_hour integer not null default 20 check (max_invitations_per_manager_per_hour >= 0),
  invitation_ttl interval not null default interval '7 days'
    check (invitation_ttl >= interval '1 minute' and invitation_ttl <= interval '90 days')
);
comment on table tenancy.management_settings is
  'One row: the operator''s settings for tenants managed from the app (self-service creation, invitation limits and lifetime). Read by the tenancy.* management functions; API roles see nothing.';
comment on column tenancy.management_settings.self_service_tenants is
  'Whether POST /functions/v1/tenants may create a tenant (its caller becomes owner). Off by default.';
comment on column tenancy.management_settings.max_pending_invitations_per_tenant is
  'Pending (not accepted, not expired) invitations a tenant may have; one more is refused with TNLIM (429).';
comment on column tenancy.management_settings.max_invitations_per_manager_per_hour is
  'Invitations one user may send in any hour, all tenants together (counted from tenancy.audit_log); one more is refused with TNLIM (429).';
comment on column tenancy.management_settings.invitation_ttl is
  'How long an invitation sent from the app stays pending (1 minute to 90 days).';

insert into tenancy.management_settings default values;

-- RLS on and no policy: API roles read nothing; the security-definer functions read it as its owner.
alter table tenancy.management_settings enable row level security;
