-- Tenancy: anonymous users manage nothing.
--
-- An anonymous sign-in (supabase.auth.signInAnonymously()) proves nothing about who is there, and anyone can
-- make as many as they like. With self-service on, one could own tenants and mail invitations to any address
-- ("You've been invited" from nobody). Now every power beyond reading, manage and own, is refused to an
-- anonymous caller with TNFBD (403), in the one helper every management function asks; creating a tenant
-- refuses them too (20261207100200). What stays open to them: reading their tenants and members, leaving a
-- tenant, and choosing their default (the `default` provisioning strategy can make them members).
--
-- The account, not the token, decides: auth.users.is_anonymous is read here, so a user who has since added
-- a proven address (which clears the flag) manages at once, and an old token saying otherwise changes nothing.
--
-- Tenants that anonymous users already own are kept, with their members; their anonymous owners can no
-- longer change them. An operator hands such a tenant over with SQL (docs/tenants.md "Anonymous users").

create function tenancy_private.is_anonymous(p_user_id uuid)
returns boolean
language plpgsql stable security definer set search_path = ''
as $$
begin
  return coalesce((select u.is_anonymous from auth.users u where u.id = p_user_id), false);
end;
$$;
comment on function tenancy_private.is_anonymous(uuid) is
  'Whether the user is an anonymous sign-in (auth.users.is_anonymous): such a user manages no tenant and creates none.';

create or replace function tenancy_private.authorize(p_user_id uuid, p_tenant text, p_power text, p_lock boolean default false)
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
  -- After the membership check: a non-member learns nothing, anonymous or not.
  if p_power <> 'read' and tenancy_private.is_anonymous(p_user_id) then
    raise exception 'anonymous users manage nothing: sign up with an email address first' using errcode = 'TNFBD';
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
  'The caller''s membership of a tenant (named by uuid or external_id) if their role has the power: read (any member), manage (owner, admin) or own (owner); manage and own never to an anonymous user. Raises TNFND when they are not a member (as if the tenant did not exist), TNFBD when the role lacks the power or the user is anonymous. p_lock takes the tenant row''s lock for a change.';

revoke all on function tenancy_private.is_anonymous(uuid) from public, anon, authenticated;
