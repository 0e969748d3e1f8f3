-- Tenancy: one lock order for an invitation and its tenant (issue 17, finding 6: "accept racing a revoke
-- answers 500").
--
-- What went wrong. A manager's change takes the tenant row's lock FOR UPDATE first
-- (tenancy_private.authorize(..., p_lock => true)); revoking then deletes the invitation. Accepting did it the
-- other way round: it updated the invitation row first, and only then did the membership and audit inserts
-- take FOR KEY SHARE on the tenant row through their foreign keys, which waits for the revoke's FOR UPDATE
-- while the revoke's delete waits for the accepted invitation row: a deadlock (40P01), answered 500. And when
-- the revoke won without a deadlock, the accept's update found no row, the accept returned no tenant (zero
-- rows, `onlyRow` in the function threw: 500 again). Declining raced a revoke the same way, and when both got
-- through, both answered 200, the loser deleting nothing and writing its audit row all the same.
--
-- The lock order, for every function that touches an invitation and its tenant:
--   1. (accepting only) the advisory lock `tenancy.resolve_tenant:<user>`, as before, so that an accept and
--      the same user's first exchange give one default;
--   2. the tenant's row: FOR UPDATE for a manager's change (authorize), FOR KEY SHARE for the invitee's side
--      and the exchange's acceptance (tenancy_private.lock_invitation);
--   3. the invitation's row, FOR UPDATE;
--   4. then, in a new statement (READ COMMITTED: it sees whatever committed while we waited), the invitation
--      is checked again, and one that was revoked, declined or accepted meanwhile is TNFND (404), never zero
--      rows.
-- revoke_invitation and create_invitation already took the tenant's lock first; revoke now also locks the
-- invitation row before reading it. remove_member takes the tenant's lock and touches no invitation; the
-- membership an accept adds is inserted under the tenant's lock too, so the two serialise on the tenant row.
--
-- Why FOR KEY SHARE on the invitee's side: it is the lock the membership's and the audit row's foreign keys
-- take anyway (so nothing waits that did not wait before, only earlier), it conflicts with the FOR UPDATE of
-- every manager's change (so an accept or a decline and a revoke are serialised on the tenant row before
-- either touches the invitation), and invitees accepting in the same tenant at once do not wait for each
-- other, as FOR UPDATE would make them.
--
-- The functions keep their signatures, grants (create or replace keeps them), audit rows and answers; what
-- changes is only that a lost race is 404 instead of a deadlock or an empty answer. The functions' callers
-- also run a transaction once more on 40P01 or 40001 (supabase/functions/_shared/caller_transaction.ts and
-- tenancy.ts), for whatever other path may still deadlock.

-- ============================================================================================
-- The locks
-- ============================================================================================
create function tenancy_private.lock_invitation(p_invitation_id uuid)
returns boolean
language plpgsql security definer set search_path = ''
as $$
declare
  invitation_tenant uuid;
begin
  -- An invitation never changes tenant: read it without a lock to know which tenant row to lock first.
  select i.tenant_id into invitation_tenant from tenancy.invitations i where i.id = p_invitation_id;
  if not found then
    return false;
  end if;
  -- The tenant first: waits for a manager's change (FOR UPDATE) to this tenant to commit.
  perform 1 from tenancy.tenants t where t.id = invitation_tenant for key share;
  -- Then the invitation: waits for another accept or decline of it; gone when revoked or declined meanwhile.
  perform 1 from tenancy.invitations i where i.id = p_invitation_id for update;
  return found;
end;
$$;
comment on function tenancy_private.lock_invitation(uuid) is
  'Takes an invitation''s locks in the one order: its tenant''s row FOR KEY SHARE (waiting for a manager''s change, which holds it FOR UPDATE), then the invitation''s row FOR UPDATE. Returns whether the invitation is still there. The caller checks the invitation again in a later statement, which sees what committed while it waited.';

-- ============================================================================================
-- The invitee's side
-- ============================================================================================
create or replace function tenancy.accept_invitation(p_invitation_id uuid)
returns table (tenant_id text, tenant_uuid uuid, name text, role text, is_default boolean)
language plpgsql security definer set search_path = ''
as $$
declare
  caller record := tenancy_private.live_caller();
  invitation tenancy.invitations;
begin
  -- The lock the exchange takes before provisioning, so that this and a first exchange give one default.
  perform pg_advisory_xact_lock(hashtextextended('tenancy.resolve_tenant:' || caller.user_id::text, 0));
  -- Not the caller's: TNFND before any row lock is taken.
  invitation := tenancy_private.callers_invitation(caller.user_id, p_invitation_id);
  -- The tenant's row, then the invitation's.
  perform tenancy_private.lock_invitation(invitation.id);
  -- Again, in a new statement: revoked, declined or accepted while we waited is TNFND.
  invitation := tenancy_private.callers_invitation(caller.user_id, p_invitation_id);
  perform tenancy_private.accept_invitation(invitation.id, caller.user_id);
  return query select * from tenancy_private.tenants_of(caller.user_id, invitation.tenant_id);
end;
$$;
comment on function tenancy.accept_invitation(uuid) is
  'POST /invitations/{id}/accept: accepts one of the caller''s invitations (TNFND otherwise, also when it was revoked, declined or accepted while this waited for its locks) with its audit row, and returns the tenant as the caller now belongs to it. Locks: the user''s advisory lock, the tenant''s row, the invitation''s row (tenancy_private.lock_invitation).';

create or replace function tenancy.decline_invitation(p_invitation_id uuid)
returns table (id uuid, tenant_id text, tenant_name text, role text, invited_by_email text,
               expires_at timestamptz)
language plpgsql security definer set search_path = ''
as $$
declare
  caller record := tenancy_private.live_caller();
  -- Not the caller's: TNFND before any row lock is taken.
  invitation tenancy.invitations := tenancy_private.callers_invitation(caller.user_id, p_invitation_id);
  declined record;
begin
  -- The tenant's row, then the invitation's.
  perform tenancy_private.lock_invitation(invitation.id);
  -- Again, in a new statement: revoked, accepted or declined while we waited is TNFND.
  invitation := tenancy_private.callers_invitation(caller.user_id, p_invitation_id);
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
  'POST /invitations/{id}/decline: deletes one of the caller''s invitations (TNFND otherwise, also when it was revoked, accepted or declined while this waited for its locks) with an invitation.declined audit row, and returns it. Locks: the tenant''s row, then the invitation''s (tenancy_private.lock_invitation).';

comment on function tenancy_private.accept_invitation(uuid, uuid) is
  'Marks one invitation accepted (once), writes its invitation.accepted audit row and adds the membership (a member keeps the role they have). Returns true when a membership was added. The caller must hold the invitation''s locks (tenancy_private.lock_invitation: the tenant''s row, then the invitation''s) and have checked, after taking them, that it is acceptable.';

-- ============================================================================================
-- The exchange's acceptance
-- ============================================================================================
create or replace function tenancy_private.accept_invitations(p_user_id uuid, p_email text, p_requested text default null)
returns boolean
language plpgsql security definer set search_path = ''
as $$
declare
  invitation tenancy.invitations;
  added boolean := false;
begin
  -- Oldest first, as before: the first membership added becomes the default.
  for invitation in
    select i.* from tenancy_private.acceptable_invitations(p_user_id, p_email) i
      join tenancy.tenants t on t.id = i.tenant_id
     where p_requested is null or t.id::text = p_requested or t.external_id = p_requested
  loop
    -- The tenant's row, then the invitation's; then, in a new statement, whether it is still acceptable
    -- (a revoke that committed meanwhile took it away: skipped, not an error).
    if tenancy_private.lock_invitation(invitation.id) then
      if exists (select 1 from tenancy_private.acceptable_invitations(p_user_id, p_email) a
                  where a.id = invitation.id) then
        added := tenancy_private.accept_invitation(invitation.id, p_user_id) or added;
      end if;
    end if;
  end loop;
  return added;
end;
$$;
comment on function tenancy_private.accept_invitations(uuid, text, text) is
  'The exchange''s acceptance: accepts every acceptable invitation of a proven email (optionally only the requested tenant''s), oldest first, each with its audit row, and adds their memberships. Each is locked in the one order (tenancy_private.lock_invitation) and checked again after; one revoked meanwhile is skipped. The caller must pass a proven email only (resolve_tenant), or null, and hold the user''s advisory lock.';

-- ============================================================================================
-- A manager's side
-- ============================================================================================
create or replace function tenancy.revoke_invitation(p_tenant text, p_invitation_id uuid)
returns table (id uuid, email text, role text, invited_by uuid, invited_by_email text,
               created_at timestamptz, expires_at timestamptz)
language plpgsql security definer set search_path = ''
as $$
declare
  caller record := tenancy_private.live_caller();
  -- The tenant's row first, FOR UPDATE: an accept or a decline of one of its invitations waits, or has
  -- committed.
  actor tenancy.memberships := tenancy_private.authorize(caller.user_id, p_tenant, 'manage', true);
  revoked record;
begin
  -- Then the invitation's row, and what it is now: accepted or declined meanwhile is TNFND.
  perform 1 from tenancy.invitations i where i.id = p_invitation_id and i.tenant_id = actor.tenant_id for update;
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
  'DELETE /tenants/{tenant}/invitations/{id}: deletes a pending invitation (admins not one to become owner: TNFBD; not pending here, also when accepted or declined just before: TNFND). Returns it. Locks: the tenant''s row FOR UPDATE, then the invitation''s.';

-- ============================================================================================
-- Grants (the replaced functions keep theirs)
-- ============================================================================================
revoke all on function tenancy_private.lock_invitation(uuid) from public, anon, authenticated;
