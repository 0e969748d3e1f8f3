-- Tenancy: schemas and default privileges.
--
-- `tenancy` holds the tables and the one function the exchange-token Edge Function calls. `tenancy_private`
-- holds security-definer helpers. Neither is listed in the Data API's exposed schemas (`[api] schemas` in
-- config.toml, "Exposed schemas" on the dashboard): the browser never reaches them through PostgREST, only
-- the Edge Function does, over a direct Postgres connection, as role `authenticated`.

create schema if not exists tenancy;
comment on schema tenancy is
  'Tenants, memberships, invitations, domain claims and the provisioning policy behind exchange-token. Not exposed through the Data API.';

create schema if not exists tenancy_private;
comment on schema tenancy_private is
  'Security-definer helpers of the tenancy schema. Not exposed, and not usable by API roles.';

-- Postgres grants EXECUTE on new functions to PUBLIC; here every function is granted one at a time.
alter default privileges in schema tenancy revoke execute on functions from public;
alter default privileges in schema tenancy_private revoke execute on functions from public;

grant usage on schema tenancy to authenticated;
revoke all on schema tenancy_private from public;
