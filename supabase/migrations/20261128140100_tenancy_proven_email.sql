-- Tenancy: only a proven address joins a tenant.
--
-- Until now the invitation and domain strategies, and the backend token's `email`, took any address with
-- auth.users.email_confirmed_at set. Supabase Auth (GoTrue) sets that column without anyone having proven
-- the address in several ways:
--   - a sign-up while "Confirm email" is off (GOTRUE_MAILER_AUTOCONFIRM) is confirmed at once, so whoever
--     signs up first as CEO@acme.com took an invitation to ceo@acme.com, and anyone typing an address at a
--     claimed domain joined that tenant;
--   - an admin email change (PUT /admin/users/{id} with `email`) switches auth.users.email and keeps
--     email_confirmed_at, marking the email identity `email_verified: false`;
--   - an anonymous user who adds an address under autoconfirm gets it confirmed with no mail sent;
--   - an OAuth sign-in whose provider did not verify the address is confirmed under autoconfirm.
--
-- Now an address counts only when it is PROVEN:
--   - it is the user's current one (auth.users.email, compared lower-cased) and confirmed, and
--   - an auth.identities row of the user for that address says identity_data.email_verified is the JSON
--     boolean true, as GoTrue's Identity.IsEmailVerified reads it: the email identity once a mailed link
--     was followed (signup, invite, email change), an OAuth identity whose provider verified it, or an
--     admin's PUT /admin/users/{id} with `email` and `email_confirm: true`;
--   - and the exchange says the project does not autoconfirm (`tenancy.email_trusted` = 'on' in the
--     transaction). Under autoconfirm GoTrue marks the identity of an anonymous user's added address
--     verified without a mail, so no identity proves anything then; the function reads Auth's
--     GET /auth/v1/settings (`mailer_autoconfirm`) and sets the flag. Absent, it is off: fail closed.
--
-- Who sets the flag: the exchange's own transaction, from its own reading of Auth's settings, never from
-- the request. An end user cannot set it: the `tenancy` schema is not exposed through the Data API, and
-- PostgREST lets no client set a setting. Even set by hand it only lets the identities speak, never more.
--
-- What an identity does not prove, and so fails closed: a user confirmed by a recovery or magic link while
-- unconfirmed (GoTrue confirms the user but leaves the identity's flag false), and a user created by the
-- admin API with `email_confirm: true` (likewise). An operator who vouches for such an address marks it
-- with PUT /admin/users/{id} `{ "email": <the same address>, "email_confirm": true }`.

-- ============================================================================================
-- The proven address
-- ============================================================================================
create function tenancy_private.proven_email(p_user_id uuid)
returns text
language plpgsql stable security definer set search_path = ''
as $$
declare
  proven text;
begin
  select lower(u.email) into proven
    from auth.users u
   where u.id = p_user_id
     and u.email_confirmed_at is not null
     and exists (select 1 from auth.identities i
                  where i.user_id = u.id
                    -- identities.email is generated as lower(identity_data->>'email'), and indexed.
                    and i.email = lower(u.email)
                    and i.identity_data -> 'email_verified' = 'true'::jsonb);
  return proven;
end;
$$;
comment on function tenancy_private.proven_email(uuid) is
  'The user''s current address (lower-cased) when it is confirmed and one of the user''s auth.identities for it says email_verified (JSON true); else null. Does not look at whether the project autoconfirms: resolve_tenant does.';

-- ============================================================================================
-- The entry point, now with the proven address (removals-stick checks live in provision and
-- accept_invitations, unchanged)
-- ============================================================================================
create or replace function tenancy.resolve_tenant(requested text default null)
returns table (tenant_id text, tenant_uuid uuid, role text, provisioned boolean, email text)
language plpgsql security definer set search_path = ''
as $$
declare
  caller record;
  found_membership record;
  did_provision boolean := false;
  -- Only the exchange sets this, from Auth's settings; when it is not 'on', no address is proven.
  email_trusted boolean := coalesce(current_setting('tenancy.email_trusted', true), '') = 'on';
  proven_email text;
begin
  caller := tenancy_private.live_caller();
  if email_trusted then
    proven_email := tenancy_private.proven_email(caller.user_id);
  end if;

  -- The returning user: one indexed lookup, no lock.
  select * into found_membership from tenancy_private.find_membership(caller.user_id, requested);
  if not found then
    -- Serialise a user's first exchanges so that many at once give one tenant, whatever the strategy.
    perform pg_advisory_xact_lock(hashtextextended('tenancy.resolve_tenant:' || caller.user_id::text, 0));

    if not exists (select 1 from tenancy.memberships m where m.user_id = caller.user_id) then
      did_provision := tenancy_private.provision(caller.user_id, proven_email, caller.is_anonymous);
    elsif requested is not null then
      -- A member of other tenants may still hold an invitation to the one they ask for.
      did_provision := tenancy_private.accept_invitations(caller.user_id, proven_email, requested);
    end if;

    select * into found_membership from tenancy_private.find_membership(caller.user_id, requested);
    if not found then
      if exists (select 1 from tenancy.memberships m where m.user_id = caller.user_id) then
        raise exception 'the requested tenant is not one of the caller''s' using errcode = 'TNMEM';
      end if;
      raise exception 'no tenant for this user under the provisioning policy' using errcode = 'TNNOT';
    end if;
  end if;

  -- The email the backend sees is auth.users' current one, and only once proven: the token's email claim
  -- may be unproven or an hour stale.
  return query select found_membership.tenant_id, found_membership.tenant_uuid, found_membership.role, did_provision,
                      proven_email;
end;
$$;
comment on function tenancy.resolve_tenant(text) is
  'The caller''s tenant for a backend JWT: the requested one (id or external_id; must be theirs), else their default; a user with none is provisioned by tenancy.provisioning_policy. Identity comes only from request.jwt.claims, checked against auth.users and auth.sessions. Invitations, domain claims and the returned email use the caller''s address only when proven (tenancy_private.proven_email) and the transaction says tenancy.email_trusted = on (the project does not autoconfirm); else email is null. Raises TNAUT (401), TNNOT (403 no_tenant), TNMEM (403 not_a_member).';

comment on function tenancy_private.accept_invitations(uuid, text, text) is
  'Marks the pending, unexpired invitations for a proven email accepted (once: accepted ones never match again) and adds their memberships; an invitation created before the user''s removal from its tenant does not match. The caller must pass a proven email only (resolve_tenant), or null.';
comment on function tenancy_private.provision(uuid, text, boolean) is
  'Tries tenancy.provisioning_policy in order: invitation and domain need a proven email (null: skipped); personal is never given to anonymous users; domain and default skip a tenant the user was removed from, and personal a user removed from any (tenancy.removed_memberships). Call with the per-user advisory lock held.';

revoke all on function tenancy_private.proven_email(uuid) from public, anon, authenticated;
