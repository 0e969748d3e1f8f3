-- Tenancy: removals stick.
--
-- Deleting a membership (an operator's SQL, a tenant manager's action, the tenant's deletion) used to be
-- undone by the user's next exchange: with no membership left, the provisioning policy ran again and the
-- domain, personal or default strategy gave the membership back. Now every delete of a membership row
-- leaves a tombstone in tenancy.removed_memberships (a trigger, so no path can forget it), and:
--   - the domain and default strategies skip a tenant the user was removed from;
--   - the personal strategy skips a user who was removed from any tenant: the removed tenant may have been
--     their personal one, and nothing tells a personal tenant from another;
--   - only an invitation created at or after the removal brings the user back to that tenant; one that was
--     pending before it stays unused;
--   - adding the membership again by any path (an invitation, an operator's insert, the import recipe)
--     clears the tombstone.
-- A user's own deletion cascades to their memberships without tombstones (there is no one left to keep out),
-- and their tombstones go with them.
--
-- Why tombstones rather than provisioning only on a user's first exchange: a first-exchange rule cannot tell
-- "removed" from "not provisioned yet" (a user who signed up before their company's domain was claimed would
-- never join it), nor one tenant from another (a user removed from one tenant could no longer be given
-- another). A tombstone records exactly what was removed, from whom, and when, so the rule is "what was
-- taken away is not given back automatically", and an invitation made afterwards is the administrator's word
-- that it may be. Removals made before this migration left no tombstone and are not covered.

create table tenancy.removed_memberships (
  user_id uuid not null references auth.users (id) on delete cascade,
  -- No foreign key: a deleted tenant's removals still keep its members from a new personal tenant.
  tenant_id uuid not null,
  removed_at timestamptz not null default now(),
  primary key (user_id, tenant_id)
);
comment on table tenancy.removed_memberships is
  'Tombstones: a user removed from a tenant is never given it again by the domain or default strategies, nor any personal tenant; only an invitation created at or after removed_at brings them back. Written by a trigger on every delete of a membership.';
comment on column tenancy.removed_memberships.tenant_id is
  'The tenant they were removed from; no foreign key, so that the tombstone outlives a deleted tenant.';

alter table tenancy.removed_memberships enable row level security;

-- ============================================================================================
-- Triggers on tenancy.memberships
-- ============================================================================================
create function tenancy_private.record_removal()
returns trigger
language plpgsql security definer set search_path = ''
as $$
begin
  -- When the user's own deletion cascades here, their auth.users row is already gone: nothing to remember.
  if exists (select 1 from auth.users u where u.id = old.user_id) then
    insert into tenancy.removed_memberships (user_id, tenant_id)
    values (old.user_id, old.tenant_id)
    on conflict (user_id, tenant_id) do update set removed_at = excluded.removed_at;
  end if;
  return null;
end;
$$;
comment on function tenancy_private.record_removal() is
  'Trigger function: records a tombstone for every deleted membership, unless the user themselves is being deleted.';

create trigger memberships_record_removal
  after delete on tenancy.memberships
  for each row execute function tenancy_private.record_removal();
comment on trigger memberships_record_removal on tenancy.memberships is
  'Every removal, by any path, leaves a tombstone so that provisioning does not undo it.';

create function tenancy_private.clear_removal()
returns trigger
language plpgsql security definer set search_path = ''
as $$
begin
  delete from tenancy.removed_memberships r where r.user_id = new.user_id and r.tenant_id = new.tenant_id;
  return null;
end;
$$;
comment on function tenancy_private.clear_removal() is
  'Trigger function: a membership added again (by invitation or by an operator) clears its tombstone.';

create trigger memberships_clear_removal
  after insert on tenancy.memberships
  for each row execute function tenancy_private.clear_removal();
comment on trigger memberships_clear_removal on tenancy.memberships is
  'Whoever adds a removed user back decided so; the tombstone goes.';

-- ============================================================================================
-- Provisioning honours the tombstones
-- ============================================================================================
create or replace function tenancy_private.accept_invitations(p_user_id uuid, p_email text, p_requested text default null)
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
       -- An invitation from before a removal does not undo it; one made since does.
       and not exists (select 1 from tenancy.removed_memberships r
                        where r.user_id = p_user_id and r.tenant_id = i.tenant_id and r.removed_at > i.created_at)
    returning i.tenant_id, i.role, i.created_at
  loop
    added := tenancy_private.add_membership(p_user_id, invitation.tenant_id, invitation.role) or added;
  end loop;
  return added;
end;
$$;
comment on function tenancy_private.accept_invitations(uuid, text, text) is
  'Marks the pending, unexpired invitations for a confirmed email accepted (once: accepted ones never match again) and adds their memberships; an invitation created before the user''s removal from its tenant does not match. The caller must pass a confirmed email only.';

create or replace function tenancy_private.provision(p_user_id uuid, p_confirmed_email text, p_is_anonymous boolean)
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
         where d.domain = substring(p_confirmed_email from '@([^@]+)$')
           and not exists (select 1 from tenancy.removed_memberships r
                            where r.user_id = p_user_id and r.tenant_id = d.tenant_id);
        if found then
          return tenancy_private.add_membership(p_user_id, claim.tenant_id, claim.role);
        end if;
      when 'personal' then
        -- An anonymous sign-in needs no email, so a personal tenant for it would let anyone mint tenants.
        -- A user removed from any tenant may have been removed from their personal one: none is made again.
        if not p_is_anonymous
           and not exists (select 1 from tenancy.removed_memberships r where r.user_id = p_user_id) then
          insert into tenancy.tenants (name) values ('Personal') returning id into personal_id;
          return tenancy_private.add_membership(p_user_id, personal_id, step.role);
        end if;
      when 'default' then
        if not exists (select 1 from tenancy.removed_memberships r
                        where r.user_id = p_user_id and r.tenant_id = step.default_tenant_id) then
          return tenancy_private.add_membership(p_user_id, step.default_tenant_id, step.role);
        end if;
    end case;
  end loop;
  return false;
end;
$$;
comment on function tenancy_private.provision(uuid, text, boolean) is
  'Tries tenancy.provisioning_policy in order: invitation and domain need a confirmed email; personal is never given to anonymous users; domain and default skip a tenant the user was removed from, and personal a user removed from any (tenancy.removed_memberships). Call with the per-user advisory lock held.';

revoke all on function tenancy_private.record_removal() from public, anon, authenticated;
revoke all on function tenancy_private.clear_removal() from public, anon, authenticated;
