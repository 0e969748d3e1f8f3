-- Tenancy: create_invitation no longer hints which mail to send.
--
-- It returned invitee_has_account (a confirmed user holds the address: send a magic link, else an invite).
-- That hint counted SSO users, whom Auth does not find by address, so an SSO user's address held by a
-- stranger's unconfirmed sign-up got a magic link, which Auth answers with that sign-up's confirmation: the
-- pre-hijacking the function now prevents. The function decides from tenancy.invitee_account() alone, which
-- looks the address up as Auth does; the hint goes. The return type changes, so the function is dropped and
-- made again, with the same grants.

drop function tenancy.create_invitation(text, text, text);

create function tenancy.create_invitation(p_tenant text, p_email text, p_role text)
returns table (id uuid, email text, role text, invited_by uuid, invited_by_email text,
               created_at timestamptz, expires_at timestamptz)
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
  return query select * from tenancy_private.invitations_of(actor.tenant_id, new_id);
end;
$$;
comment on function tenancy.create_invitation(text, text, text) is
  'POST /tenants/{tenant}/invitations: invites an address (lower-cased) with a role (user when null). Owners invite any role, admins any but owner (TNFBD); a member''s address or a pending invitation to it is TNCFL; over a limit of tenancy.management_settings is TNLIM (DETAIL: seconds to wait). Which mail to send is the function''s to find out, from tenancy.invitee_account() (20261207100500).';

revoke all on function tenancy.create_invitation(text, text, text) from public, anon;
grant execute on function tenancy.create_invitation(text, text, text) to authenticated;
