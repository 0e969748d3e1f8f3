-- Tenancy: the roles a tenant may assign come from a list.
--
-- A role is a string the backend JWT carries and the Python service acts on. Until now any well-formed name
-- was accepted, so an admin could give anyone, themself included, `billing_admin` or whatever the backend
-- treats as powerful. Now tenancy.roles lists the roles a project allows, and every column that holds a role
-- (memberships, invitations, domain claims, the provisioning policy) references it: the app's calls get
-- TNBAD (400 invalid_request) naming the allowed roles, and an operator's SQL gets a foreign-key violation.
--
-- Seeded with owner, admin and user, and every role already in use, so no existing row is refused. Operators
-- add a custom role with one statement (docs/tenants.md "Custom roles"):
--   insert into tenancy.roles (role, description) values ('billing', 'Reads and pays invoices');
-- A custom role has the powers of `user` here (it only reads the tenant); what it means is the backend's.
--
-- Also: an admin cannot change their own role (an owner still may, while another owner remains).

create table tenancy.roles (
  role text primary key check (role ~ '^[a-z][a-z0-9_]{0,31}$'),
  description text check (length(description) <= 500),
  created_at timestamptz not null default now()
);
comment on table tenancy.roles is
  'The roles a tenant may assign: memberships, invitations, domain claims and the provisioning policy reference it. owner and admin have fixed powers in the management functions; every other role reads only. Operators add custom roles with SQL; API roles see none of it.';
comment on column tenancy.roles.description is
  'What the role means to the backend, for the operator''s own reference.';

alter table tenancy.roles enable row level security;

insert into tenancy.roles (role, description) values
  ('owner', 'Manages the tenant, its members, invitations and owners'),
  ('admin', 'Manages members and invitations, never owners'),
  ('user', 'A member: reads the tenant');
insert into tenancy.roles (role)
select r from (
  select role from tenancy.memberships
  union select role from tenancy.invitations
  union select role from tenancy.domain_claims
  union select role from tenancy.provisioning_policy where role is not null
) used (r)
on conflict (role) do nothing;

-- A role seeded from existing rows may have been planted by the very hole this closes (an admin giving
-- `billing_admin`): say which, so the operator reviews them.
do $$
declare
  seeded text := (select string_agg(r.role, ', ' order by r.role) from tenancy.roles r
                   where r.role not in ('owner', 'admin', 'user'));
begin
  if seeded is not null then
    raise warning 'tenancy.roles now allows these roles already in use: %. Review them; delete a row (after changing its members) to forbid one.', seeded;
  end if;
end;
$$;

alter table tenancy.memberships
  add constraint memberships_role_fkey foreign key (role) references tenancy.roles (role);
alter table tenancy.invitations
  add constraint invitations_role_fkey foreign key (role) references tenancy.roles (role);
alter table tenancy.domain_claims
  add constraint domain_claims_role_fkey foreign key (role) references tenancy.roles (role);
alter table tenancy.provisioning_policy
  add constraint provisioning_policy_role_fkey foreign key (role) references tenancy.roles (role);

-- A role as the app may assign it: well-formed and listed.
create or replace function tenancy_private.checked_role(p_role text)
returns text
language plpgsql stable security definer set search_path = ''
as $$
begin
  if p_role is null or not exists (select 1 from tenancy.roles r where r.role = p_role) then
    raise exception 'role must be one of: %',
      (select string_agg(r.role, ', ' order by r.role) from tenancy.roles r)
      using errcode = 'TNBAD';
  end if;
  return p_role;
end;
$$;
comment on function tenancy_private.checked_role(text) is
  'The role if tenancy.roles lists it; else raises TNBAD naming the allowed roles.';

create or replace function tenancy.set_member_role(p_tenant text, p_user_id uuid, p_role text)
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
  if actor.role <> 'owner' and p_user_id = caller.user_id then
    raise exception 'an admin cannot change their own role' using errcode = 'TNFBD';
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
  'PATCH /tenants/{tenant}/members/{user_id}: owners set any listed role (tenancy.roles; else TNBAD); admins set any but owner, on non-owners other than themselves only (TNFBD); the last owner is never demoted (TNCFL); a member not there is TNFND.';
