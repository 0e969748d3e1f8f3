-- Tenancy: the exchange refuses a session Supabase Auth would refuse, not only one it has deleted.
--
-- Supabase Auth (GoTrue) ends sessions by three settings without ever writing auth.sessions.not_after:
-- a timebox (GOTRUE_SESSIONS_TIMEBOX, `[auth.sessions] timebox`), an inactivity timeout
-- (GOTRUE_SESSIONS_INACTIVITY_TIMEOUT, `[auth.sessions] inactivity_timeout`) and single session per user
-- (GOTRUE_SESSIONS_SINGLE_PER_USER, a dashboard setting). It checks them when a refresh token is used
-- (internal/tokens/service.go RefreshTokenGrant, internal/models/sessions.go Session.CheckValidity), and
-- deletes such sessions only a day later (internal/models/cleanup.go). Until then the row is there, so the
-- check of live_caller() alone (the row exists, not past not_after) would keep exchanging an access token
-- of a session Auth no longer refreshes, and every exchange would mint a backend token for it.
--
-- Why mirror CheckValidity here rather than cap the backend token's exp at the session's end: only the
-- timebox gives an end known at the exchange. The inactivity timeout moves with every refresh, and a newer
-- sign-in ends a session under single-session-per-user at a moment nobody can know in advance, so a cap
-- could express neither; a check at the exchange expresses all three, as Auth itself checks them.
--
-- Auth's settings are not in the database, so the caller passes them, transaction-locally, as the
-- function does from its own settings (AUTH_SESSIONS_TIMEBOX, AUTH_SESSIONS_INACTIVITY_TIMEOUT,
-- AUTH_SESSIONS_SINGLE_PER_USER; docs/contract.md §4):
--   exchange.session_timebox             seconds, '' or unset = no timebox
--   exchange.session_inactivity_timeout  seconds, '' or unset = no inactivity timeout
--   exchange.session_single_per_user     'on' = only the user's most recently active valid session counts
-- Unset, live_caller() checks what it checked before. A session refused for any of them raises TNAUT (401).

-- ============================================================================================
-- Private helpers
-- ============================================================================================

-- GoTrue's Session.CheckValidity, without the low-AAL rule (allow_low_aal is not a setting the CLI or the
-- dashboard offers). `now()` is the transaction's start: one clock for the whole exchange.
create function tenancy_private.session_in_force(
  p_created_at timestamptz,
  p_last_active timestamptz,
  p_not_after timestamptz,
  p_timebox interval,
  p_inactivity_timeout interval
)
returns boolean
language plpgsql stable set search_path = ''
as $$
begin
  return not (coalesce(now() > p_not_after, false)
              or coalesce(now() > p_created_at + p_timebox, false)
              or coalesce(now() > p_last_active + p_inactivity_timeout, false));
end;
$$;
comment on function tenancy_private.session_in_force(timestamptz, timestamptz, timestamptz, interval, interval) is
  'GoTrue''s Session.CheckValidity: false once past not_after, past created_at + timebox, or past the last activity + inactivity timeout (a null limit never ends a session).';

-- GoTrue's Session.LastRefreshedAt(nil): refreshed_at, which GoTrue writes in UTC into a column without a
-- time zone, else the session's start.
create function tenancy_private.session_last_active(p_created_at timestamptz, p_refreshed_at timestamp)
returns timestamptz
language plpgsql immutable set search_path = ''
as $$
begin
  return coalesce(p_refreshed_at at time zone 'UTC', p_created_at);
end;
$$;
comment on function tenancy_private.session_last_active(timestamptz, timestamp) is
  'GoTrue''s Session.LastRefreshedAt(nil): auth.sessions.refreshed_at (UTC, without a time zone) when set, else created_at.';

-- The caller's live account, now also checked against Auth's session limits.
create or replace function tenancy_private.live_caller(out user_id uuid, out confirmed_email text, out is_anonymous boolean)
language plpgsql stable security definer set search_path = ''
as $$
declare
  claims jsonb := auth.jwt();
  session_text text := claims ->> 'session_id';
  timebox interval :=
    make_interval(secs => nullif(current_setting('exchange.session_timebox', true), '')::double precision);
  inactivity_timeout interval :=
    make_interval(secs => nullif(current_setting('exchange.session_inactivity_timeout', true), '')::double precision);
  session_created timestamptz;
  session_active timestamptz;
  session_not_after timestamptz;
begin
  if claims is null or claims ->> 'role' is distinct from 'authenticated'
     or session_text is null or session_text !~* '^[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}$'
     or coalesce(claims ->> 'sub', '') !~* '^[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}$' then
    raise exception 'no authenticated user session in request.jwt.claims' using errcode = 'TNAUT';
  end if;

  select u.id, case when u.email_confirmed_at is not null then lower(u.email) end, u.is_anonymous,
         s.created_at, tenancy_private.session_last_active(s.created_at, s.refreshed_at), s.not_after
    into user_id, confirmed_email, is_anonymous, session_created, session_active, session_not_after
    from auth.users u
    join auth.sessions s on s.user_id = u.id
   where u.id = (claims ->> 'sub')::uuid
     and s.id = session_text::uuid
     and u.deleted_at is null
     and (u.banned_until is null or u.banned_until <= now());
  if not found then
    raise exception 'the user or the session is no longer valid' using errcode = 'TNAUT';
  end if;
  if not tenancy_private.session_in_force(session_created, session_active, session_not_after, timebox,
                                          inactivity_timeout) then
    raise exception 'the session is past its not_after, timebox or inactivity timeout' using errcode = 'TNAUT';
  end if;

  -- GoTrue's single session per user (RefreshTokenGrant): a session is refused when another valid session
  -- of the user was active more recently. Sessions tags (GOTRUE_SESSIONS_TAGS) are not mirrored.
  if current_setting('exchange.session_single_per_user', true) = 'on' and exists (
    select 1
      from auth.sessions o
     where o.user_id = live_caller.user_id
       and o.id <> session_text::uuid
       and tenancy_private.session_in_force(
             o.created_at, tenancy_private.session_last_active(o.created_at, o.refreshed_at), o.not_after,
             timebox, inactivity_timeout)
       and tenancy_private.session_last_active(o.created_at, o.refreshed_at) > session_active
  ) then
    raise exception 'a newer session of the user supersedes this one' using errcode = 'TNAUT';
  end if;
end;
$$;
comment on function tenancy_private.live_caller() is
  'The caller from request.jwt.claims, checked against auth.users (exists, not deleted, not banned) and auth.sessions (the token''s session exists for this user and is in force: not past not_after, nor past the timebox or inactivity timeout in exchange.session_timebox / exchange.session_inactivity_timeout, nor, with exchange.session_single_per_user = on, superseded by a more recently active valid session of the user). Raises TNAUT otherwise. confirmed_email is null unless email_confirmed_at is set.';

-- ============================================================================================
-- Grants
-- ============================================================================================

-- The helpers run only inside resolve_tenant (as its owner); no API role may call them.
revoke all on function tenancy_private.session_in_force(timestamptz, timestamptz, timestamptz, interval, interval)
  from public, anon, authenticated;
revoke all on function tenancy_private.session_last_active(timestamptz, timestamp) from public, anon, authenticated;
