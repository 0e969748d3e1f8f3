-- Tenancy: invitations sent from the app, and the audit trail read from it (the `tenants` Edge Function).
--
-- A manager invites an address with a role. The address is lower-cased and there is at most one pending
-- invitation per address and tenant (checked under the tenant's row lock; a unique index cannot say
-- "pending", which depends on now()). The invitee accepts by proving the address (20261128150600), and is
-- told by mail after this transaction commits: the function asks Supabase Auth, and records a mail Auth did
-- not send with tenancy.record_invitation_mail_failure().
--
-- Limits (tenancy.management_settings) keep a manager's account from mailing strangers in bulk: pending
-- invitations per tenant, and invitations per user per hour, counted from the audit trail (revoked ones
-- count: their mails went out). Beyond one, TNLIM with the seconds to wait in DETAIL (Retry-After).

-- ============================================================================================
-- Private helpers
-- ============================================================================================
create function tenancy_private.invitations_of(p_tenant_id uuid, p_invitation_id uuid default null)
returns table (id uuid, email text, role text, invited_by uuid, invited_by_email text,
               created_at timestamptz, expires_at timestamptz)
language plpgsql stable security definer set search_path = ''
as $$
begin
  return query
  select i.id, i.email, i.role, i.invited_by, lower(u.email)::text, i.created_at, i.expires_at
    from tenancy.invitations i
    left join auth.users u on u.id = i.invited_by
   where i.tenant_id = p_tenant_id and i.accepted_at is null and i.expires_at > now()
     and (p_invitation_id is null or i.id = p_invitation_id)
   order by i.created_at desc, i.id;
end;
$$;
comment on function tenancy_private.invitations_of(uuid, uuid) is
  'A tenant''s pending (not accepted, not expired) invitations, or one of them, as a manager sees them; newest first.';

create function tenancy_private.checked_email(p_email text)
returns text
language plpgsql immutable set search_path = ''
as $$
declare
  email text := lower(btrim(p_email));
begin
  if email is null or length(email) > 254 or email !~ '^[^@[:space:][:cntrl:]]+@[^@[:space:][:cntrl:]]+\.[^@[:space:][:cntrl:]]+$' then
    raise exception 'not an email address' using errcode = 'TNBAD';
  end if;
  return email;
end;
$$;
comment on function tenancy_private.checked_email(text) is
  'The address trimmed and lower-cased if it looks like one (local@domain.tld, at most 254 characters); else raises TNBAD.';

-- ============================================================================================
-- Invitations
-- ============================================================================================
create function tenancy.list_invitations(p_tenant text)
returns table (id uuid, email text, role text, invited_by uuid, invited_by_email text,
               created_at timestamptz, expires_at timestamptz)
language plpgsql stable security definer set search_path = ''
as $$
declare
  caller record := tenancy_private.live_caller();
  actor tenancy.memberships := tenancy_private.authorize(caller.user_id, p_tenant, 'manage');
begin
  return query select * from tenancy_private.invitations_of(actor.tenant_id);
end;
$$;
comment on function tenancy.list_invitations(text) is
  'GET /tenants/{tenant}/invitations: the tenant''s pending invitations; owners and admins only.';

create function tenancy.create_invitation(p_tenant text, p_email text, p_role text)
returns table (id uuid, email text, role text, invited_by uuid, invited_by_email text,
               created_at timestamptz, expires_at timestamptz, invitee_has_account boolean)
language plpgsql security definer set search_path = ''
as $$
declare
  caller record := tenancy_private.live_caller();
  actor tenancy.memberships := tenancy_private.authorize(caller.user_id, p_tenant, 'manage', true);
  new_email text := tenancy_private.checked_email(p_email);
  new_role text := tenancy_private.checked_role(coalesce(p_role, 'user'));
  settings tenancy.management_settings;
  counted bigint;
  oldest timestamptz;
  new_id uuid;
begin
  if not tenancy_private.may_grant(actor.role, new_role) then
    raise exception 'only an owner invites an owner' using errcode = 'TNFBD';
  end if;
  if exists (select 1 from tenancy.memberships m join auth.users u on u.id = m.user_id
              where m.tenant_id = actor.tenant_id and lower(u.email) = new_email) then
    raise exception 'that address is already a member''s' using errcode = 'TNCFL';
  end if;
  if exists (select 1 from tenancy.invitations i
              where i.tenant_id = actor.tenant_id and i.email = new_email
                and i.accepted_at is null and i.expires_at > now()) then
    raise exception 'that address already has a pending invitation; revoke it to send another' using errcode = 'TNCFL';
  end if;

  select * into settings from tenancy.management_settings;
  -- One user's sends, across tenants, one at a time: the count below must see the previous one.
  perform pg_advisory_xact_lock(hashtextextended('tenancy.invitations_sent:' || caller.user_id::text, 0));
  select count(*), min(a.at) into counted, oldest from tenancy.audit_log a
   where a.actor_id = caller.user_id and a.action = 'invitation.created' and a.at > now() - interval '1 hour';
  if counted >= settings.max_invitations_per_manager_per_hour then
    raise exception 'too many invitations sent in the last hour'
      using errcode = 'TNLIM',
            detail = greatest(1, coalesce(ceil(extract(epoch from oldest + interval '1 hour' - now())), 3600))::bigint::text;
  end if;
  select count(*), min(i.expires_at) into counted, oldest from tenancy.invitations i
   where i.tenant_id = actor.tenant_id and i.accepted_at is null and i.expires_at > now();
  if counted >= settings.max_pending_invitations_per_tenant then
    raise exception 'this tenant has too many pending invitations'
      using errcode = 'TNLIM',
            detail = greatest(1, coalesce(ceil(extract(epoch from oldest - now())), 3600))::bigint::text;
  end if;

  insert into tenancy.invitations (tenant_id, email, role, invited_by, expires_at)
  values (actor.tenant_id, new_email, new_role, caller.user_id, now() + settings.invitation_ttl)
  returning tenancy.invitations.id into new_id;
  perform tenancy_private.audit(actor.tenant_id, caller.user_id, 'invitation.created', null, new_email, new_id,
                                p_after => jsonb_build_object('email', new_email, 'role', new_role,
                                                              'expires_at', now() + settings.invitation_ttl));
  return query
  select v.*, exists (select 1 from auth.users u where lower(u.email) = new_email and u.email_confirmed_at is not null)
    from tenancy_private.invitations_of(actor.tenant_id, new_id) v;
end;
$$;
comment on function tenancy.create_invitation(text, text, text) is
  'POST /tenants/{tenant}/invitations: invites an address (lower-cased) with a role (user when null). Owners invite any role, admins any but owner (TNFBD); a member''s address or a pending invitation to it is TNCFL; over a limit of tenancy.management_settings is TNLIM (DETAIL: seconds to wait). invitee_has_account says which mail to send (the function''s business only: it is not shown).';

create function tenancy.revoke_invitation(p_tenant text, p_invitation_id uuid)
returns table (id uuid, email text, role text, invited_by uuid, invited_by_email text,
               created_at timestamptz, expires_at timestamptz)
language plpgsql security definer set search_path = ''
as $$
declare
  caller record := tenancy_private.live_caller();
  actor tenancy.memberships := tenancy_private.authorize(caller.user_id, p_tenant, 'manage', true);
  revoked record;
begin
  select * into revoked from tenancy_private.invitations_of(actor.tenant_id, p_invitation_id);
  if not found then
    raise exception 'no such pending invitation' using errcode = 'TNFND';
  end if;
  if not tenancy_private.may_grant(actor.role, revoked.role) then
    raise exception 'only an owner revokes an invitation to become owner' using errcode = 'TNFBD';
  end if;
  delete from tenancy.invitations i where i.id = p_invitation_id;
  perform tenancy_private.audit(actor.tenant_id, caller.user_id, 'invitation.revoked', null, revoked.email,
                                p_invitation_id,
                                p_before => jsonb_build_object('email', revoked.email, 'role', revoked.role));
  return query select revoked.id, revoked.email, revoked.role, revoked.invited_by, revoked.invited_by_email,
                      revoked.created_at, revoked.expires_at;
end;
$$;
comment on function tenancy.revoke_invitation(text, uuid) is
  'DELETE /tenants/{tenant}/invitations/{id}: deletes a pending invitation (admins not one to become owner: TNFBD; not pending here: TNFND). Returns it.';

create function tenancy.record_invitation_mail_failure(p_invitation_id uuid, p_reason text)
returns void
language plpgsql security definer set search_path = ''
as $$
declare
  caller record := tenancy_private.live_caller();
  invitation tenancy.invitations;
begin
  select * into invitation from tenancy.invitations i where i.id = p_invitation_id and i.invited_by = caller.user_id;
  if not found then
    raise exception 'no such invitation of the caller''s' using errcode = 'TNFND';
  end if;
  perform tenancy_private.audit(invitation.tenant_id, caller.user_id, 'invitation.mail_failed', null,
                                invitation.email, invitation.id,
                                p_after => jsonb_build_object('reason', left(coalesce(p_reason, 'unknown'), 200)));
end;
$$;
comment on function tenancy.record_invitation_mail_failure(uuid, text) is
  'After POST /tenants/{tenant}/invitations committed and Auth did not send the mail: one invitation.mail_failed audit row, by the invitation''s sender only (else TNFND).';

-- ============================================================================================
-- The audit trail
-- ============================================================================================
create function tenancy.list_audit(p_tenant text, p_before bigint default null, p_limit integer default 50)
returns table (id bigint, at timestamptz, action text, actor_id uuid, actor_email text, target_user_id uuid,
               target_email text, invitation_id uuid, before jsonb, after jsonb)
language plpgsql stable security definer set search_path = ''
as $$
declare
  caller record := tenancy_private.live_caller();
  actor tenancy.memberships := tenancy_private.authorize(caller.user_id, p_tenant, 'manage');
begin
  if p_limit is null or p_limit not between 1 and 100 then
    raise exception 'limit is 1 to 100' using errcode = 'TNBAD';
  end if;
  return query
  select a.id, a.at, a.action, a.actor_id, a.actor_email, a.target_user_id, a.target_email, a.invitation_id,
         a.before, a.after
    from tenancy.audit_log a
   where a.tenant_id = actor.tenant_id and (p_before is null or a.id < p_before)
   order by a.id desc
   limit p_limit;
end;
$$;
comment on function tenancy.list_audit(text, bigint, integer) is
  'GET /tenants/{tenant}/audit: the tenant''s trail, newest first, p_limit (1-100) entries older than entry p_before; owners and admins only.';

-- ============================================================================================
-- Grants
-- ============================================================================================
revoke all on function tenancy_private.invitations_of(uuid, uuid) from public, anon, authenticated;
revoke all on function tenancy_private.checked_email(text) from public, anon, authenticated;

revoke all on function tenancy.list_invitations(text) from public, anon;
revoke all on function tenancy.create_invitation(text, text, text) from public, anon;
revoke all on function tenancy.revoke_invitation(text, uuid) from public, anon;
revoke all on function tenancy.record_invitation_mail_failure(uuid, text) from public, anon;
revoke all on function tenancy.list_audit(text, bigint, integer) from public, anon;
grant execute on function tenancy.list_invitations(text) to authenticated;
grant execute on function tenancy.create_invitation(text, text, text) to authenticated;
grant execute on function tenancy.revoke_invitation(text, uuid) to authenticated;
grant execute on function tenancy.record_invitation_mail_failure(uuid, text) to authenticated;
grant execute on function tenancy.list_audit(text, bigint, integer) to authenticated;
