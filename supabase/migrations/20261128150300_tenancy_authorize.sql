-- Tenancy: one helper decides what a caller may do to a tenant.
--
-- Roles have fixed powers (docs/tenants.md "Roles and their powers"): `owner` may do everything, `admin`
-- manages members and invitations (never owners, never granting above admin), and every other role,
-- `user` and the operator's custom ones included, may only read. Every management function asks
-- tenancy_private.authorize() first, as basejump's functions ask has_role_on_account(), so the rule lives
-- in one place.
--
-- A tenant the caller is not a member of raises TNFND (404), exactly as one that does not exist, so that
-- nobody can learn which tenants exist by asking; a member whose role lacks the power gets TNFBD (403).
--
-- SQLSTATEs of the management functions (mapped by supabase/functions/_shared/management_db.ts):
--   TNFND  no such tenant among the caller's, or no such member or invitation in it          -> 404 not_found
--   TNFBD  the caller's role lacks the power; self-service creation is off                    -> 403 forbidden
--   TNCFL  the change would leave the tenant without an owner; a duplicate invitation or member -> 409 conflict
--   TNLIM  over a limit of tenancy.management_settings; DETAIL is the seconds to wait          -> 429 rate_limited
--   TNBAD  a value the tables refuse (a blank name, an address that is not one, a bad role)   -> 400 invalid_request

create function tenancy_private.authorize(p_user_id uuid, p_tenant text, p_power text, p_lock boolean default false)
returns tenancy.memberships
language plpgsql security definer set search_path = ''
as $$
declare
  membership tenancy.memberships;
  tenant_uuid uuid;
begin
  if p_power not in ('read', 'manage', 'own') then
    raise exception 'unknown power %', p_power;
  end if;
  select t.id into tenant_uuid from tenancy.tenants t
   where (t.id::text = p_tenant or t.external_id = p_tenant)
     and exists (select 1 from tenancy.memberships m where m.tenant_id = t.id and m.user_id = p_user_id);
  if not found then
    raise exception 'no such tenant among the caller''s' using errcode = 'TNFND';
  end if;
  -- Changes to one tenant take its row lock, so that two owners demoting each other at once cannot both
  -- see the other one as the remaining owner.
  if p_lock then
    perform 1 from tenancy.tenants t where t.id = tenant_uuid for update;
  end if;
  select * into membership from tenancy.memberships m where m.tenant_id = tenant_uuid and m.user_id = p_user_id;
  if not found then
    -- Removed while we waited for the lock.
    raise exception 'no such tenant among the caller''s' using errcode = 'TNFND';
  end if;
  if (p_power = 'manage' and membership.role not in ('owner', 'admin'))
     or (p_power = 'own' and membership.role <> 'owner') then
    raise exception 'the caller''s role % may not do this here', membership.role using errcode = 'TNFBD';
  end if;
  return membership;
end;
$$;
comment on function tenancy_private.authorize(uuid, text, text, boolean) is
  'The caller''s membership of a tenant (named by uuid or external_id) if their role has the power: read (any member), manage (owner, admin) or own (owner). Raises TNFND when they are not a member (as if the tenant did not exist), TNFBD when the role lacks the power. p_lock takes the tenant row''s lock for a change.';

-- Whether a role may grant or hold a role: owners any, admins anything but owner.
create function tenancy_private.may_grant(p_actor_role text, p_role text)
returns boolean
language plpgsql immutable set search_path = ''
as $$
begin
  return p_actor_role = 'owner' or (p_actor_role = 'admin' and p_role <> 'owner');
end;
$$;
comment on function tenancy_private.may_grant(text, text) is
  'Whether a member with role p_actor_role may grant, revoke or act on role p_role: owners any role, admins any but owner, others none.';

revoke all on function tenancy_private.authorize(uuid, text, text, boolean) from public, anon, authenticated;
revoke all on function tenancy_private.may_grant(text, text) from public, anon, authenticated;
