-- Tenancy: REQUIRE_AAL2, the function's setting that refuses an aal1 session of a user who has MFA.
--
-- A user who enrolled a factor signs in with a password first (an aal1 session) and then verifies the
-- factor, which raises the same session to aal2. Until then their access token says aal1, and with
-- REQUIRE_AAL2=true the exchange refuses it (401 insufficient_user_authentication, RFC 9470) instead of
-- handing a password-only session the backend token a two-factor sign-in gets. Users without a verified
-- factor keep exchanging at aal1: they have nothing to step up to.
--
-- Which factors a user has is Auth's data (auth.mfa_factors), read here by a security-definer function, as
-- resolve_tenant reads auth.sessions; the session's level is the verified token's `aal` claim, which Auth
-- sets from the session. The function is called in the exchange's own transaction, before resolve_tenant,
-- and only when the setting is on.

create function tenancy.require_aal2()
returns void
language plpgsql stable security definer set search_path = ''
as $$
begin
  if coalesce(auth.jwt() ->> 'aal', 'aal1') not in ('aal2', 'aal3')
     and exists (select 1 from auth.mfa_factors f
                  where f.user_id = (select auth.uid()) and f.status = 'verified') then
    raise exception using
      errcode = 'TNAAL',
      message = 'this user has a verified MFA factor: an aal2 session is required';
  end if;
end;
$$;
comment on function tenancy.require_aal2() is
  'REQUIRE_AAL2: raises TNAAL (401 insufficient_user_authentication) when the caller''s token (request.jwt.claims) is below aal2 and the user has a verified factor in auth.mfa_factors. The exchange calls it before resolve_tenant when the setting is on.';

revoke all on function tenancy.require_aal2() from public, anon;
grant execute on function tenancy.require_aal2() to authenticated;
