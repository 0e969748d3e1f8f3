-- Tenancy: tenants and members managed from the app (the `tenants` Edge Function).
--
-- Thin `tenancy.*` functions, one per action, each: the caller from request.jwt.claims, checked against
-- auth.users and auth.sessions (tenancy_private.live_caller), never from an argument; their power on the
-- tenant (tenancy_private.authorize); the change; one tenancy.audit_log row. The function runs each in one
-- transaction as `authenticated`, so a failure anywhere rolls all of it back.
--
-- The last owner stays: no change made here leaves a tenant that has an owner without one. This is checked
-- here rather than by a trigger on memberships, because deleting a user in Auth must still cascade to their
-- memberships (a trigger would refuse it). A tenant without any owner (made by the operator, like the seed's
-- `demo`) is not affected: nobody here can make an owner there.

-- ============================================================================================
-- Private helpers
-- ============================================================================================

-- The caller's tenants as the API shows them.
create function tenancy_private.tenants_of(p_user_id uuid, p_tenant_id uuid default null)
returns table (tenant_id text, tenant_uuid uuid, name text, role text, is_default boolean)
language plpgsql stable security definer set search_path = ''
as $$
begin
  return query
  select coalesce(t.external_id, t.id::text), t.id, t.name, m.role, m.is_default
    from tenancy.memberships m
    join tenancy.tenants t on t.id = m.tenant_id
   where m.user_id = p_user_id and (p_tenant_id is null or t.id = p_tenant_id)
   order by m.is_default desc, t.name, t.id;
end;
$$;
comment on function tenancy_private.tenants_of(uuid, uuid) is
  'A user''s tenants (or one of them) as the API shows them: tenant_id (external_id, else the uuid), uuid, name, their role, whether it is their default; default first, then by name.';

-- A tenant's members as the API shows them.
create function tenancy_private.members_of(p_tenant_id uuid, p_user_id uuid default null)
returns table (user_id uuid, email text, role text, joined_at timestamptz)
language plpgsql stable security definer set search_path = ''
as $$
begin
  return query
  select m.user_id, lower(u.email)::text, m.role, m.created_at
    from tenancy.memberships m
    join auth.users u on u.id = m.user_id
   where m.tenant_id = p_tenant_id and (p_user_id is null or m.user_id = p_user_id)
   order by m.created_at, m.user_id;
end;
$$;
comment on function tenancy_private.members_of(uuid, uuid) is
  'A tenant''s members (or one of them) as the API shows them: user id, current address, role, when they joined.';

-- A tenant name as the API accepts it.
create function tenancy_private.checked_name(p_name text)
returns text
language plpgsql immutable set search_path = ''
as $$
declare
  name text := btrim(p_name);
begin
  if name is null or length(name) not between 1 and 200 or name ~ '[[:cntrl:]]' then
    raise exception 'a tenant name is 1 to 200 characters, without control characters' using errcode = 'TNBAD';
  end if;
  return name;
end;
$$;
comment on function tenancy_private.checked_name(text) is
  'The name trimmed, if 1 to 200 characters without control characters; else raises TNBAD.';

-- A role as memberships and invitations accept it.
create function tenancy_private.checked_role(p_role text)
returns text
language plpgsql immutable set search_path = ''
as $$
begin
  if p_role is null or p_role !~ '^[a-z][a-z0-9_]{0,31}$' then
    raise exception 'a role is a lower-case letter, then up to 31 lower-case letters, digits or _' using errcode = 'TNBAD';
  end if;
  return p_role;
end;
$$;
comment on function tenancy_private.checked_role(text) is
  'The role if it matches ^[a-z][a-z0-9_]{0,31}$ (the memberships'' check); else raises TNBAD.';

-- Whether a tenant would have no owner left without p_user_id's ownership, though it has one now.
create function tenancy_private.is_last_owner(p_tenant_id uuid, p_user_id uuid)
returns boolean
language plpgsql stable security definer set search_path = ''
as $$
begin
  return exists (select 1 from tenancy.memberships m
                  where m.tenant_id = p_tenant_id and m.user_id = p_user_id and m.role = 'owner')
     and not exists (select 1 from tenancy.memberships m
                      where m.tenant_id = p_tenant_id and m.user_id <> p_user_id and m.role = 'owner');
end;
$$;
comment on function tenancy_private.is_last_owner(uuid, uuid) is
  'True when p_user_id is the tenant''s only owner (call with the tenant row locked).';

-- ============================================================================================
-- Tenants
-- ============================================================================================
create function tenancy.list_tenants()
returns table (tenant_id text, tenant_uuid uuid, name text, role text, is_default boolean)
language plpgsql stable security definer set search_path = ''
as $$
declare
  caller record := tenancy_private.live_caller();
begin
  return query select * from tenancy_private.tenants_of(caller.user_id);
end;
$$;
comment on function tenancy.list_tenants() is
  'GET /tenants: the caller''s tenants with their role in each, default first.';

create function tenancy.create_tenant(p_name text)
returns table (tenant_id text, tenant_uuid uuid, name text, role text, is_default boolean)
language plpgsql security definer set search_path = ''
as $$
declare
  caller record := tenancy_private.live_caller();
  new_name text := tenancy_private.checked_name(p_name);
  new_id uuid;
begin
  if not (select s.self_service_tenants from tenancy.management_settings s) then
    raise exception 'creating tenants from the app is off (tenancy.management_settings.self_service_tenants)'
      using errcode = 'TNFBD';
  end if;
  insert into tenancy.tenants (name) values (new_name) returning id into new_id;
  perform tenancy_private.add_membership(caller.user_id, new_id, 'owner');
  perform tenancy_private.audit(new_id, caller.user_id, 'tenant.created', p_after => jsonb_build_object('name', new_name));
  return query select * from tenancy_private.tenants_of(caller.user_id, new_id);
end;
$$;
comment on function tenancy.create_tenant(text) is
  'POST /tenants: a new tenant with the caller as owner (their default if it is their first), only where tenancy.management_settings.self_service_tenants is on (else TNFBD).';

create function tenancy.rename_tenant(p_tenant text, p_name text)
returns table (tenant_id text, tenant_uuid uuid, name text, role text, is_default boolean)
language plpgsql security definer set search_path = ''
as $$
declare
  caller record := tenancy_private.live_caller();
  membership tenancy.memberships := tenancy_private.authorize(caller.user_id, p_tenant, 'own', true);
  new_name text := tenancy_private.checked_name(p_name);
  old_name text;
begin
  select t.name into old_name from tenancy.tenants t where t.id = membership.tenant_id;
  if old_name is distinct from new_name then
    update tenancy.tenants t set name = new_name, updated_at = now() where t.id = membership.tenant_id;
    perform tenancy_private.audit(membership.tenant_id, caller.user_id, 'tenant.renamed',
                                  p_before => jsonb_build_object('name', old_name),
                                  p_after => jsonb_build_object('name', new_name));
  end if;
  return query select * from tenancy_private.tenants_of(caller.user_id, membership.tenant_id);
end;
$$;
comment on function tenancy.rename_tenant(text, text) is
  'PATCH /tenants/{tenant}: renames a tenant; owners only (TNFBD), members only (TNFND).';

create function tenancy.set_default_tenant(p_tenant text)
returns table (tenant_id text, tenant_uuid uuid, name text, role text, is_default boolean)
language plpgsql security definer set search_path = ''
as $$
declare
  caller record := tenancy_private.live_caller();
  membership tenancy.memberships := tenancy_private.authorize(caller.user_id, p_tenant, 'read');
begin
  -- Two statements: the unique index on the default is checked row by row, not at the statement's end.
  update tenancy.memberships m set is_default = false
   where m.user_id = caller.user_id and m.is_default and m.tenant_id <> membership.tenant_id;
  update tenancy.memberships m set is_default = true
   where m.user_id = caller.user_id and m.tenant_id = membership.tenant_id and not m.is_default;
  return query select * from tenancy_private.tenants_of(caller.user_id, membership.tenant_id);
end;
$$;
comment on function tenancy.set_default_tenant(text) is
  'PUT /tenants/{tenant}/default: the tenant an exchange picks when the caller names none. The caller''s own preference, not a change to the tenant: no audit row.';

-- ============================================================================================
-- Members
-- ============================================================================================
create function tenancy.list_members(p_tenant text)
returns table (user_id uuid, email text, role text, joined_at timestamptz)
language plpgsql stable security definer set search_path = ''
as $$
declare
  caller record := tenancy_private.live_caller();
  membership tenancy.memberships := tenancy_private.authorize(caller.user_id, p_tenant, 'read');
begin
  return query select * from tenancy_private.members_of(membership.tenant_id);
end;
$$;
comment on function tenancy.list_members(text) is
  'GET /tenants/{tenant}/members: the members of a tenant the caller belongs to (any role).';

create function tenancy.set_member_role(p_tenant text, p_user_id uuid, p_role text)
returns table (user_id uuid, email text, role text, joined_at timestamptz)
language plpgsql security definer set search_path = ''
as $$
declare
  caller record := tenancy_private.live_caller();
  actor tenancy.memberships := tenancy_private.authorize(caller.user_id, p_tenant, 'manage', true);
  new_role text := tenancy_private.checked_role(p_role);
  target tenancy.memberships;
begin
  select * into target from tenancy.memberships m where m.tenant_id = actor.tenant_id and m.user_id = p_user_id;
  if not found then
    raise exception 'no such member' using errcode = 'TNFND';
  end if;
  if not tenancy_private.may_grant(actor.role, target.role) or not tenancy_private.may_grant(actor.role, new_role) then
    raise exception 'only an owner changes an owner, or makes one' using errcode = 'TNFBD';
  end if;
  if new_role <> 'owner' and tenancy_private.is_last_owner(actor.tenant_id, p_user_id) then
    raise exception 'the last owner cannot be demoted; make someone else owner first' using errcode = 'TNCFL';
  end if;
  if target.role <> new_role then
    update tenancy.memberships m set role = new_role where m.tenant_id = actor.tenant_id and m.user_id = p_user_id;
    perform tenancy_private.audit(actor.tenant_id, caller.user_id, 'member.role_changed', p_user_id,
                                  p_before => jsonb_build_object('role', target.role),
                                  p_after => jsonb_build_object('role', new_role));
  end if;
  return query select * from tenancy_private.members_of(actor.tenant_id, p_user_id);
end;
$$;
comment on function tenancy.set_member_role(text, uuid, text) is
  'PATCH /tenants/{tenant}/members/{user_id}: owners set any role; admins set any role but owner, on non-owners only (TNFBD); the last owner is never demoted (TNCFL); a member not there is TNFND.';

create function tenancy.remove_member(p_tenant text, p_user_id uuid)
returns table (user_id uuid, email text, role text, joined_at timestamptz)
language plpgsql security definer set search_path = ''
as $$
declare
  caller record := tenancy_private.live_caller();
  leaving boolean := p_user_id = caller.user_id;
  actor tenancy.memberships := tenancy_private.authorize(caller.user_id, p_tenant,
                                                          case when leaving then 'read' else 'manage' end, true);
  target tenancy.memberships;
  removed record;
begin
  select * into target from tenancy.memberships m where m.tenant_id = actor.tenant_id and m.user_id = p_user_id;
  if not found then
    raise exception 'no such member' using errcode = 'TNFND';
  end if;
  if not leaving and not tenancy_private.may_grant(actor.role, target.role) then
    raise exception 'only an owner removes an owner' using errcode = 'TNFBD';
  end if;
  if tenancy_private.is_last_owner(actor.tenant_id, p_user_id) then
    raise exception 'the last owner cannot leave; make someone else owner first' using errcode = 'TNCFL';
  end if;
  select * into removed from tenancy_private.members_of(actor.tenant_id, p_user_id);
  -- The delete leaves a tombstone (tenancy.removed_memberships), so no provisioning gives it back.
  delete from tenancy.memberships m where m.tenant_id = actor.tenant_id and m.user_id = p_user_id;
  perform tenancy_private.audit(actor.tenant_id, caller.user_id,
                                case when leaving then 'member.left' else 'member.removed' end, p_user_id,
                                removed.email, p_before => jsonb_build_object('role', target.role));
  return query select removed.user_id, removed.email, removed.role, removed.joined_at;
end;
$$;
comment on function tenancy.remove_member(text, uuid) is
  'DELETE /tenants/{tenant}/members/{user_id}: a manager removes someone (admins never an owner: TNFBD), or anyone removes themself (leaving); never the last owner (TNCFL). The removal sticks (a tombstone). Returns the removed member.';

-- ============================================================================================
-- Grants
-- ============================================================================================
revoke all on function tenancy_private.tenants_of(uuid, uuid) from public, anon, authenticated;
revoke all on function tenancy_private.members_of(uuid, uuid) from public, anon, authenticated;
revoke all on function tenancy_private.checked_name(text) from public, anon, authenticated;
revoke all on function tenancy_private.checked_role(text) from public, anon, authenticated;
revoke all on function tenancy_private.is_last_owner(uuid, uuid) from public, anon, authenticated;

revoke all on function tenancy.list_tenants() from public, anon;
revoke all on function tenancy.create_tenant(text) from public, anon;
revoke all on function tenancy.rename_tenant(text, text) from public, anon;
revoke all on function tenancy.set_default_tenant(text) from public, anon;
revoke all on function tenancy.list_members(text) from public, anon;
revoke all on function tenancy.set_member_role(text, uuid, text) from public, anon;
revoke all on function tenancy.remove_member(text, uuid) from public, anon;
grant execute on function tenancy.list_tenants() to authenticated;
grant execute on function tenancy.create_tenant(text) to authenticated;
grant execute on function tenancy.rename_tenant(text, text) to authenticated;
grant execute on function tenancy.set_default_tenant(text) to authenticated;
grant execute on function tenancy.list_members(text) to authenticated;
grant execute on function tenancy.set_member_role(text, uuid, text) to authenticated;
grant execute on function tenancy.remove_member(text, uuid) to authenticated;
