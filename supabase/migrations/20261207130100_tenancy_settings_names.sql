-- Tenancy: tenancy_private.live_caller() loses its unread confirmed_email, and reads Auth's session limits
-- under tenancy.* names.
--
-- What:
--   - live_caller() returns (user_id, is_anonymous). Its confirmed_email out-parameter (the address when
--     email_confirmed_at is set) has been unread since 20261128140100: every caller reads caller.user_id
--     and caller.is_anonymous, and resolve_tenant takes the address from tenancy_private.proven_email.
--     An unread "confirmed" address sitting next to the proven one invites the wrong choice.
--   - The transaction-local settings it reads get the names of the schema that reads them, as
--     tenancy.email_trusted already has:
--       exchange.session_timebox             -> tenancy.session_timebox
--       exchange.session_inactivity_timeout  -> tenancy.session_inactivity_timeout
--       exchange.session_single_per_user     -> tenancy.session_single_per_user
--     (exchange.requested_tenant is read by the function's own query, not by any SQL function here, so
--     its rename needs no migration.)
--
-- Why a fallback: `supabase db push` and `supabase functions deploy` happen separately, so for a while
-- the database may be newer than the deployed function (which sets only exchange.*) or older (then the
-- function sets both). For one release live_caller() reads the new name and, when it is unset or '',
-- the old one: coalesce(nullif(current_setting('tenancy.x', true), ''), current_setting('exchange.x',
-- true)). A later migration drops the exchange.* fallback once every deployed function sets tenancy.*.
--
-- How: a function's out-parameters cannot change with `create or replace`, so it is dropped and created
-- again in this one migration, with the same body otherwise, `security definer`, `set search_path = ''`,
-- and the same privileges as before (EXECUTE for its owner only). Its callers are plpgsql, which looks
-- the function up when it runs, so none of them depends on it in pg_depend or needs recreating.

drop function tenancy_private.live_caller();

-- The caller's live account, checked against Auth's session limits (20261128120100), now without the
-- unread address and with the session limits under tenancy.* names (exchange.* for one more release).
create function tenancy_private.live_caller(out user_id uuid, out is_anonymous boolean)
language plpgsql stable security definer set search_path = ''
as $$
declare
  claims jsonb := auth.jwt();
  session_text text := claims ->> 'session_id';
  -- The new name first; the old one while a deployed function may set only it (one release).
  timebox interval :=
    make_interval(secs => nullif(coalesce(nullif(current_setting('tenancy.session_timebox', true), ''),
                                          current_setting('exchange.session_timebox', true)), '')::double precision);
  inactivity_timeout interval :=
    make_interval(secs => nullif(coalesce(nullif(current_setting('tenancy.session_inactivity_timeout', true), ''),
                                          current_setting('exchange.session_inactivity_timeout', true)),
                                 '')::double precision);
  single_per_user boolean :=
    coalesce(nullif(current_setting('tenancy.session_single_per_user', true), ''),
             current_setting('exchange.session_single_per_user', true)) is not distinct from 'on';
  session_created timestamptz;
  session_active timestamptz;
  session_not_after timestamptz;
begin
  if claims is null or claims ->> 'role' is distinct from 'authenticated'
     or session_text is null or session_text !~* '^[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}$'
     or coalesce(claims ->> 'sub', '') !~* '^[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}$' then
    raise exception 'no authenticated user session in request.jwt.claims' using errcode = 'TNAUT';
  end if;

  select u.id, u.is_anonymous,
         s.created_at, tenancy_private.session_last_active(s.created_at, s.refreshed_at), s.not_after
    into user_id, is_anonymous, session_created, session_active, session_not_after
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
  if single_per_user and exists (
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
  'The caller (user_id, is_anonymous) from request.jwt.claims, checked against auth.users (exists, not deleted, not banned) and auth.sessions (the token''s session exists for this user and is in force: not past not_after, nor past the timebox or inactivity timeout in tenancy.session_timebox / tenancy.session_inactivity_timeout (seconds), nor, with tenancy.session_single_per_user = on, superseded by a more recently active valid session of the user). Raises TNAUT otherwise. For one release, a tenancy.* setting that is unset or empty falls back to its old name (exchange.session_timebox, exchange.session_inactivity_timeout, exchange.session_single_per_user), since the database and the function are deployed separately.';

-- As before (20261126000400): it runs only inside the tenancy functions (as their owner); no API role may
-- call it.
revoke all on function tenancy_private.live_caller() from public, anon, authenticated;
