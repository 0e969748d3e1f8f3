-- Tenancy: a manager reads the roles they may give in a tenant (GET /tenants/{tenant}/roles).
--
-- Why: tenancy.roles (20261207100300) is the operator's list, and API roles see none of it (RLS, no policy),
-- so an app had to hard-code owner/admin/user: a custom role the operator added could not be picked, and an
-- admin was offered `owner`, which the database then refused. Now an owner or admin asks, and gets the listed
-- roles they may grant there (owners all, admins all but owner: tenancy_private.may_grant), with the
-- operator's description. Other members, anonymous users and non-members are refused as for the other
-- managers' calls (TNFBD, TNFND), by tenancy_private.authorize.

create function tenancy.grantable_roles(p_tenant text)
returns table (role text, description text)
language plpgsql stable security definer set search_path = ''
as $$
declare
  caller record := tenancy_private.live_caller();
  actor tenancy.memberships := tenancy_private.authorize(caller.user_id, p_tenant, 'manage');
begin
  return query
  select r.role, r.description
    from tenancy.roles r
   where tenancy_private.may_grant(actor.role, r.role)
   order by r.role;
end;
$$;
comment on function tenancy.grantable_roles(text) is
  'GET /tenants/{tenant}/roles: the roles tenancy.roles lists that the caller may grant in the tenant (owners all, admins all but owner), by name, with their descriptions; owners and admins only.';

revoke all on function tenancy.grantable_roles(text) from public, anon;
grant execute on function tenancy.grantable_roles(text) to authenticated;
