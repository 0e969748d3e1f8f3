-- Tenancy: what the `tenants` function must know of an invitee's account before mailing them.
--
-- Account pre-hijacking: an attacker signs up first with new.hire@corp.test and a password of their own; the
-- account stays unconfirmed. Auth's invite (GoTrue's internal/api/invite.go) re-uses an existing unconfirmed
-- user and keeps its password, so the victim's click on the invitation they expected confirms the attacker's
-- account. The function therefore asks, before the mail, whether an unconfirmed user holds the address, and
-- deletes it through Auth's admin API so that the invite makes a fresh one; and asks again after it, to catch
-- a sign-up that raced in between (docs/tenants.md "Invitations and their mails").
--
-- Only the invitation's sender may ask, while it is pending: the answer says whether an account exists for
-- an address they just invited, which they learn anyway from which mail goes out.

create function tenancy.invitee_account(p_invitation_id uuid)
returns table (user_id uuid, confirmed boolean, pristine boolean, has_password boolean)
language plpgsql stable security definer set search_path = ''
as $$
declare
  caller record := tenancy_private.live_caller();
  invitation tenancy.invitations;
begin
  select * into invitation from tenancy.invitations i
   where i.id = p_invitation_id and i.invited_by = caller.user_id and i.accepted_at is null;
  if not found then
    raise exception 'no such pending invitation of the caller''s' using errcode = 'TNFND';
  end if;
  -- GoTrue's FindUserByEmailAndAudience: the address case-insensitively, in the audience the functions
  -- invite in, SSO users aside (an SSO user never blocks nor gets the invite: Auth does not find them).
  return query
  select u.id,
         u.email_confirmed_at is not null,
         -- Nobody has ever been let in: no confirmation of any kind, no sign-in, no identity but the address.
         u.email_confirmed_at is null and u.phone_confirmed_at is null and u.last_sign_in_at is null
           and not exists (select 1 from auth.identities i where i.user_id = u.id and i.provider <> 'email'),
         coalesce(u.encrypted_password, '') <> ''
    from auth.users u
   where lower(u.email) = invitation.email and u.aud = 'authenticated' and not coalesce(u.is_sso_user, false)
   order by u.created_at
   limit 1;
end;
$$;
comment on function tenancy.invitee_account(uuid) is
  'For the sender of a pending invitation (else TNFND): the Auth user holding its address, if any: whether it is confirmed, pristine (never confirmed nor signed in, no identity but the address: safe to delete and invite afresh), and whether it has a password. The tenants function reads it around Auth''s invite.';

revoke all on function tenancy.invitee_account(uuid) from public, anon;
grant execute on function tenancy.invitee_account(uuid) to authenticated;
