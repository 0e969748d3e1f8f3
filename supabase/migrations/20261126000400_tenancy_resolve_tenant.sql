-- Tenancy: tenancy.resolve_tenant(), the one entry point of the exchange-token Edge Function.
--
-- It runs as `security definer` (owned by postgres) because it reads auth.users and auth.sessions and
-- provisions memberships, which `authenticated` may not do itself. It takes the caller's identity only from
-- the verified claims in request.jwt.claims (auth.uid(), auth.jwt()), never from an argument, and reads the
-- email from auth.users, never from the token or user_metadata.
--
-- Errors carry their own SQLSTATEs so the function can map them without parsing messages:
--   TNAUT  the user is missing, deleted or banned, or the token's session no longer exists  -> 401
--   TNNOT  no membership, and the provisioning policy gives none                             -> 403 no_tenant
--   TNMEM  the requested tenant is not one of the caller's                                  -> 403 not_a_member

-- ============================================================================================
-- Private helpers
-- ============================================================================================

-- The caller's live account: the checks that only Supabase Auth could make before, for the cost of one
-- indexed join in the query the exchange makes anyway.
create function tenancy_private.live_caller(out user_id uuid, out confirmed_email text, out is_anonymous boolean)
language plpgsql stable security definer set search_path = ''
as $$
declare
  claims jsonb := auth.jwt();
  session_text text := claims ->> 'session_id';
begin
  if claims is null or claims ->> 'role' is distinct from 'authenticated'
     or session_text is null or session_text !~* '^[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}$'
     or coalesce(claims ->> 'sub', '') !~* '^[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}$' then
    raise exception 'no authenticated user session in request.jwt.claims' using errcode = 'TNAUT';
  end if;

  select u.id, case when u.email_confirmed_at is not null then lower(u.email) end, u.is_anonymous
    into user_id, confirmed_email, is_anonymous
    from auth.users u
    join auth.sessions s on s.user_id = u.id
   where u.id = (claims ->> 'sub')::uuid
     and s.id = session_text::uuid
     and u.deleted_at is null
     and (u.banned_until is null or u.banned_until <= now())
     and (s.not_after is null or s.not_after > now());
  if not found then
    raise exception 'the user or the session is no longer valid' using errcode = 'TNAUT';
  end if;
end;
$$;
comment on function tenancy_private.live_caller() is
  'The caller from request.jwt.claims, checked against auth.users (exists, not deleted, not banned) and auth.sessions (the token''s session exists for this user, not past not_after). Raises TNAUT otherwise. confirmed_email is null unless email_confirmed_at is set.';

-- The caller's membership: the requested tenant (by id or external_id), or else the default one.
-- plpgsql rather than a SQL function: a security-definer SQL function is planned on every call (~100 µs),
-- plpgsql keeps the plan for the connection's life.
create function tenancy_private.find_membership(p_user_id uuid, p_requested text)
returns table (tenant_id text, tenant_uuid uuid, role text)
language plpgsql stable security definer set search_path = ''
as $$
begin
  return query
  select coalesce(t.external_id, t.id::text), t.id, m.role
    from tenancy.memberships m
    join tenancy.tenants t on t.id = m.tenant_id
   where m.user_id = p_user_id
     and (p_requested is null or t.id::text = p_requested or t.external_id = p_requested)
   order by m.is_default desc, m.created_at, m.tenant_id
   limit 1;
end;
$$;
comment on function tenancy_private.find_membership(uuid, text) is
  'The membership an exchange returns: the requested tenant (matched on id or external_id) or, when none is requested, the default, else the oldest.';

-- Adds a membership; the user's first one becomes the default.
create function tenancy_private.add_membership(p_user_id uuid, p_tenant_id uuid, p_role text)
returns boolean
language plpgsql security definer set search_path = ''
as $$
begin
  insert into tenancy.memberships (tenant_id, user_id, role, is_default)
  values (
    p_tenant_id, p_user_id, coalesce(p_role, 'user'),
    not exists (select 1 from tenancy.memberships m where m.user_id = p_user_id and m.is_default)
  )
  on conflict (tenant_id, user_id) do nothing;
  return found;
end;
$$;
comment on function tenancy_private.add_membership(uuid, uuid, text) is
  'Inserts a membership (idempotent). The first membership of a user is the default one. Returns true when a row was added.';

-- Accepts the pending, unexpired invitations for a confirmed email, optionally only those of one tenant.
create function tenancy_private.accept_invitations(p_user_id uuid, p_email text, p_requested text default null)
returns boolean
language plpgsql security definer set search_path = ''
as $$
declare
  invitation record;
  added boolean := false;
begin
  if p_email is null then
    return false;
  end if;
  for invitation in
    update tenancy.invitations i
       set accepted_at = now(), accepted_by = p_user_id
      from tenancy.tenants t
     where t.id = i.tenant_id
       and i.email = p_email
       and i.accepted_at is null
       and i.expires_at > now()
       and (p_requested is null or t.id::text = p_requested or t.external_id = p_requested)
    returning i.tenant_id, i.role, i.created_at
  loop
    added := tenancy_private.add_membership(p_user_id, invitation.tenant_id, invitation.role) or added;
  end loop;
  return added;
end;
$$;
comment on function tenancy_private.accept_invitations(uuid, text, text) is
  'Marks the pending, unexpired invitations for a confirmed email accepted (once: accepted ones never match again) and adds their memberships. The caller must pass a confirmed email only.';

-- Applies the provisioning policy in order until a strategy gives a membership.
create function tenancy_private.provision(p_user_id uuid, p_confirmed_email text, p_is_anonymous boolean)
returns boolean
language plpgsql security definer set search_path = ''
as $$
declare
  step tenancy.provisioning_policy;
  claim tenancy.domain_claims;
  personal_id uuid;
begin
  for step in select * from tenancy.provisioning_policy order by position loop
    case step.strategy
      when 'invitation' then
        if tenancy_private.accept_invitations(p_user_id, p_confirmed_email) then
          return true;
        end if;
      when 'domain' then
        select * into claim from tenancy.domain_claims d
         where d.domain = substring(p_confirmed_email from '@([^@]+)$');
        if found then
          return tenancy_private.add_membership(p_user_id, claim.tenant_id, claim.role);
        end if;
      when 'personal' then
        -- An anonymous sign-in needs no email, so a personal tenant for it would let anyone mint tenants.
        if not p_is_anonymous then
          insert into tenancy.tenants (name) values ('Personal') returning id into personal_id;
          return tenancy_private.add_membership(p_user_id, personal_id, step.role);
        end if;
      when 'default' then
        return tenancy_private.add_membership(p_user_id, step.default_tenant_id, step.role);
    end case;
  end loop;
  return false;
end;
$$;
comment on function tenancy_private.provision(uuid, text, boolean) is
  'Tries tenancy.provisioning_policy in order: invitation and domain need a confirmed email; personal is never given to anonymous users; default joins the configured tenant. Call with the per-user advisory lock held.';

-- ============================================================================================
-- The entry point
-- ============================================================================================
create function tenancy.resolve_tenant(requested text default null)
returns table (tenant_id text, tenant_uuid uuid, role text, provisioned boolean, email text)
language plpgsql security definer set search_path = ''
as $$
declare
  caller record;
  found_membership record;
  did_provision boolean := false;
begin
  caller := tenancy_private.live_caller();

  -- The returning user: one indexed lookup, no lock.
  select * into found_membership from tenancy_private.find_membership(caller.user_id, requested);
  if not found then
    -- Serialise a user's first exchanges so that many at once give one tenant, whatever the strategy.
    perform pg_advisory_xact_lock(hashtextextended('tenancy.resolve_tenant:' || caller.user_id::text, 0));

    if not exists (select 1 from tenancy.memberships m where m.user_id = caller.user_id) then
      did_provision := tenancy_private.provision(caller.user_id, caller.confirmed_email, caller.is_anonymous);
    elsif requested is not null then
      -- A member of other tenants may still hold an invitation to the one they ask for.
      did_provision := tenancy_private.accept_invitations(caller.user_id, caller.confirmed_email, requested);
    end if;

    select * into found_membership from tenancy_private.find_membership(caller.user_id, requested);
    if not found then
      if exists (select 1 from tenancy.memberships m where m.user_id = caller.user_id) then
        raise exception 'the requested tenant is not one of the caller''s' using errcode = 'TNMEM';
      end if;
      raise exception 'no tenant for this user under the provisioning policy' using errcode = 'TNNOT';
    end if;
  end if;

  -- The email the backend sees is auth.users' current one, and only once confirmed: the token's email claim
  -- may be unconfirmed or an hour stale.
  return query select found_membership.tenant_id, found_membership.tenant_uuid, found_membership.role, did_provision,
                      caller.confirmed_email;
end;
$$;
comment on function tenancy.resolve_tenant(text) is
  'The caller''s tenant for a backend JWT: the requested one (id or external_id; must be theirs), else their default; a user with none is provisioned by tenancy.provisioning_policy. Identity comes only from request.jwt.claims, checked against auth.users and auth.sessions. Also returns the caller''s email from auth.users when confirmed (else null). Raises TNAUT (401), TNNOT (403 no_tenant), TNMEM (403 not_a_member).';

-- ============================================================================================
-- Grants
-- ============================================================================================
revoke all on function tenancy.resolve_tenant(text) from public, anon;
grant execute on function tenancy.resolve_tenant(text) to authenticated;

-- The helpers run only inside resolve_tenant (as its owner); no API role may call them.
revoke all on function tenancy_private.live_caller() from public, anon, authenticated;
revoke all on function tenancy_private.find_membership(uuid, text) from public, anon, authenticated;
revoke all on function tenancy_private.add_membership(uuid, uuid, text) from public, anon, authenticated;
revoke all on function tenancy_private.accept_invitations(uuid, text, text) from public, anon, authenticated;
revoke all on function tenancy_private.provision(uuid, text, boolean) from public, anon, authenticated;
