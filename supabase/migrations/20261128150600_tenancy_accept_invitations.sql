-- Tenancy: the invitee's side of invitations (the `invitations` Edge Function), and one way of accepting.
--
-- An invitation is the caller's when it is pending, unexpired, to their PROVEN address
-- (tenancy_private.proven_email, and only in a transaction that says the project confirms addresses by mail:
-- `tenancy.email_trusted` = 'on', set by the function), and not older than their removal from its tenant
-- (removals stick). tenancy_private.acceptable_invitations() says so in one place, for the list, for
-- accepting and declining here, and for the exchange's own acceptance.
--
-- Every way of accepting (POST /invitations/{id}/accept, a user's first exchange, an exchange naming the
-- tenant) goes through tenancy_private.accept_invitation(), which writes the same `invitation.accepted`
-- audit row. Declining deletes the invitation, with an `invitation.declined` row.

-- ============================================================================================
-- Private helpers
-- ============================================================================================
create function tenancy_private.acceptable_invitations(p_user_id uuid, p_email text)
returns setof tenancy.invitations
language plpgsql stable security definer set search_path = ''
as $$
begin
  return query
  select i.*
    from tenancy.invitations i
   where p_email is not null
     and i.email = p_email
     and i.accepted_at is null
     and i.expires_at > now()
     -- An invitation from before a removal does not undo it; one made since does.
     and not exists (select 1 from tenancy.removed_memberships r
                      where r.user_id = p_user_id and r.tenant_id = i.tenant_id and r.removed_at > i.created_at)
   order by i.created_at, i.id;
end;
$$;
comment on function tenancy_private.acceptable_invitations(uuid, text) is
  'The invitations a user may accept with a proven address: pending, unexpired, to that address, and not created before their removal from the tenant. None for a null address.';

create function tenancy_private.accept_invitation(p_invitation_id uuid, p_user_id uuid)
returns boolean
language plpgsql security definer set search_path = ''
as $$
declare
  accepted record;
begin
  update tenancy.invitations i
     set accepted_at = now(), accepted_by = p_user_id
   where i.id = p_invitation_id and i.accepted_at is null
  returning i.tenant_id, i.role, i.email into accepted;
  if not found then
    -- Accepted by a concurrent request of the same user, which wrote the row.
    return false;
  end if;
  perform tenancy_private.audit(accepted.tenant_id, p_user_id, 'invitation.accepted', p_user_id, accepted.email,
                                p_invitation_id, p_after => jsonb_build_object('role', accepted.role));
  return tenancy_private.add_membership(p_user_id, accepted.tenant_id, accepted.role);
end;
$$;
comment on function tenancy_private.accept_invitation(uuid, uuid) is
  'Marks one invitation accepted (once), writes its invitation.accepted audit row and adds the membership (a member keeps the role they have). Returns true when a membership was added. The caller must have checked it is acceptable.';

create or replace function tenancy_private.accept_invitations(p_user_id uuid, p_email text, p_requested text default null)
returns boolean
language plpgsql security definer set search_path = ''
as $$
declare
  invitation tenancy.invitations;
  added boolean := false;
begin
  for invitation in
    select i.* from tenancy_private.acceptable_invitations(p_user_id, p_email) i
      join tenancy.tenants t on t.id = i.tenant_id
     where p_requested is null or t.id::text = p_requested or t.external_id = p_requested
  loop
    added := tenancy_private.accept_invitation(invitation.id, p_user_id) or added;
  end loop;
  return added;
end;
$$;
comment on function tenancy_private.accept_invitations(uuid, text, text) is
  'The exchange''s acceptance: accepts every acceptable invitation of a proven email (optionally only the requested tenant''s), each with its audit row, and adds their memberships. The caller must pass a proven email only (resolve_tenant), or null.';

create function tenancy_private.caller_proven_email(p_user_id uuid)
returns text
language plpgsql stable security definer set search_path = ''
as $$
begin
  -- Only the function sets this, from Auth's settings; when it is not 'on', no address is proven.
  if coalesce(current_setting('tenancy.email_trusted', true), '') = 'on' then
    return tenancy_private.proven_email(p_user_id);
  end if;
  return null;
end;
$$;
comment on function tenancy_private.caller_proven_email(uuid) is
  'The user''s proven address (tenancy_private.proven_email) when the transaction says the project confirms addresses by mail (tenancy.email_trusted = on); else null.';

-- The caller's acceptable invitation p_invitation_id, or TNFND.
create function tenancy_private.callers_invitation(p_user_id uuid, p_invitation_id uuid)
returns tenancy.invitations
language plpgsql stable security definer set search_path = ''
as $$
declare
  invitation tenancy.invitations;
begin
  select * into invitation
    from tenancy_private.acceptable_invitations(p_user_id, tenancy_private.caller_proven_email(p_user_id)) i
   where i.id = p_invitation_id;
  if not found then
    raise exception 'no such invitation for the caller''s proven address' using errcode = 'TNFND';
  end if;
  return invitation;
end;
$$;
comment on function tenancy_private.callers_invitation(uuid, uuid) is
  'One of the caller''s acceptable invitations by id; TNFND when it is not one (unknown, someone else''s, accepted, expired, predating a removal, or the caller has no proven address).';

-- ============================================================================================
-- The invitee's functions
-- ============================================================================================
create function tenancy.my_invitations()
returns table (id uuid, tenant_id text, tenant_name text, role text, invited_by_email text,
               expires_at timestamptz)
language plpgsql stable security definer set search_path = ''
as $$
declare
  caller record := tenancy_private.live_caller();
begin
  return query
  select i.id, coalesce(t.external_id, t.id::text), t.name, i.role, lower(u.email)::text, i.expires_at
    from tenancy_private.acceptable_invitations(caller.user_id, tenancy_private.caller_proven_email(caller.user_id)) i
    join tenancy.tenants t on t.id = i.tenant_id
    left join auth.users u on u.id = i.invited_by
   order by i.created_at desc, i.id;
end;
$$;
comment on function tenancy.my_invitations() is
  'GET /invitations: the caller''s pending invitations, by their proven address (none without one), newest first.';

create function tenancy.accept_invitation(p_invitation_id uuid)
returns table (tenant_id text, tenant_uuid uuid, name text, role text, is_default boolean)
language plpgsql security definer set search_path = ''
as $$
declare
  caller record := tenancy_private.live_caller();
  invitation tenancy.invitations;
begin
  -- The lock the exchange takes before provisioning, so that this and a first exchange give one default.
  perform pg_advisory_xact_lock(hashtextextended('tenancy.resolve_tenant:' || caller.user_id::text, 0));
  invitation := tenancy_private.callers_invitation(caller.user_id, p_invitation_id);
  perform tenancy_private.accept_invitation(invitation.id, caller.user_id);
  return query select * from tenancy_private.tenants_of(caller.user_id, invitation.tenant_id);
end;
$$;
comment on function tenancy.accept_invitation(uuid) is
  'POST /invitations/{id}/accept: accepts one of the caller''s invitations (TNFND otherwise) with its audit row, and returns the tenant as the caller now belongs to it.';

create function tenancy.decline_invitation(p_invitation_id uuid)
returns table (id uuid, tenant_id text, tenant_name text, role text, invited_by_email text,
               expires_at timestamptz)
language plpgsql security definer set search_path = ''
as $$
declare
  caller record := tenancy_private.live_caller();
  invitation tenancy.invitations := tenancy_private.callers_invitation(caller.user_id, p_invitation_id);
  declined record;
begin
  select i.id, coalesce(t.external_id, t.id::text) as tenant_id, t.name as tenant_name, i.role,
         lower(u.email)::text as invited_by_email, i.expires_at
    into declined
    from tenancy.invitations i
    join tenancy.tenants t on t.id = i.tenant_id
    left join auth.users u on u.id = i.invited_by
   where i.id = invitation.id;
  delete from tenancy.invitations i where i.id = invitation.id;
  perform tenancy_private.audit(invitation.tenant_id, caller.user_id, 'invitation.declined', caller.user_id,
                                invitation.email, invitation.id,
                                p_before => jsonb_build_object('email', invitation.email, 'role', invitation.role));
  return query select declined.id, declined.tenant_id, declined.tenant_name, declined.role,
                      declined.invited_by_email, declined.expires_at;
end;
$$;
comment on function tenancy.decline_invitation(uuid) is
  'POST /invitations/{id}/decline: deletes one of the caller''s invitations (TNFND otherwise) with an invitation.declined audit row, and returns it.';

-- ============================================================================================
-- Grants
-- ============================================================================================
revoke all on function tenancy_private.acceptable_invitations(uuid, text) from public, anon, authenticated;
revoke all on function tenancy_private.accept_invitation(uuid, uuid) from public, anon, authenticated;
revoke all on function tenancy_private.caller_proven_email(uuid) from public, anon, authenticated;
revoke all on function tenancy_private.callers_invitation(uuid, uuid) from public, anon, authenticated;

revoke all on function tenancy.my_invitations() from public, anon;
revoke all on function tenancy.accept_invitation(uuid) from public, anon;
revoke all on function tenancy.decline_invitation(uuid) from public, anon;
grant execute on function tenancy.my_invitations() to authenticated;
grant execute on function tenancy.accept_invitation(uuid) to authenticated;
grant execute on function tenancy.decline_invitation(uuid) to authenticated;
