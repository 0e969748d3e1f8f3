-- Tenancy: a personal tenant is known as one, and only a removal from it stops another being made.
--
-- Removals stick (20261127120300): with nothing to tell a personal tenant from another, the personal
-- strategy skipped any user removed from any tenant, so any manager could deny a new user their personal
-- tenant for good (invite, let them accept, remove). Now:
--   - tenants.personal_of names the user the personal strategy made the tenant for (one per user);
--   - each tombstone says whether it is a removal from the user's own personal tenant (`personal`): set by
--     the removal trigger, and, for a personal tenant deleted outright, by a trigger on the tenant's delete
--     (the cascade's own trigger can no longer see the tenant row);
--   - the personal strategy skips a user only when they already have a personal tenant or were removed from
--     theirs.
--
-- Backfill, for tenants made before this migration. The personal strategy inserts the tenant and its one
-- membership in one transaction, so both carry the same created_at (now() is the transaction's start), writes
-- no audit row, and sets no external_id. A tenant is taken as personal_of its member when it has no
-- external_id, no `tenant.created` audit row (tenants created from the app have one), and exactly one
-- membership created at the tenant's own created_at. Why that is safe: a tenant marked wrongly only keeps
-- the old, stricter rule for that one user (their removal from it blocks a personal tenant, as before); a
-- personal tenant missed (made by SQL in some other way) only lets its removed user get a new one. Existing
-- tombstones count as `personal` when their tenant is that user's personal tenant, or no longer exists (what
-- it was cannot be known, so they keep blocking as before).

alter table tenancy.tenants add column personal_of uuid references auth.users (id) on delete set null;
comment on column tenancy.tenants.personal_of is
  'The user the personal provisioning strategy made this tenant for; null for every other tenant. A removal from it (and only from it) keeps the personal strategy from making the user another.';
-- One personal tenant per user; also the foreign key's lookup when a user is deleted.
create unique index tenants_personal_of_key on tenancy.tenants (personal_of) where personal_of is not null;

alter table tenancy.removed_memberships add column personal boolean not null default false;
comment on column tenancy.removed_memberships.personal is
  'The removal was from the user''s own personal tenant (tenants.personal_of): the personal strategy makes them no other.';

with sole_member as (
  select m.tenant_id, (array_agg(m.user_id))[1] as user_id, min(t.created_at) as created_at
    from tenancy.memberships m
    join tenancy.tenants t on t.id = m.tenant_id
   where m.created_at = t.created_at
     and t.external_id is null
     and not exists (select 1 from tenancy.audit_log a where a.tenant_id = t.id and a.action = 'tenant.created')
   group by m.tenant_id
  having count(*) = 1
), oldest_per_user as (
  -- One personal tenant per user: where a user qualifies twice, the oldest.
  select distinct on (s.user_id) s.tenant_id, s.user_id from sole_member s order by s.user_id, s.created_at, s.tenant_id
)
update tenancy.tenants t set personal_of = o.user_id from oldest_per_user o where o.tenant_id = t.id;

update tenancy.removed_memberships r set personal = true
 where exists (select 1 from tenancy.tenants t where t.id = r.tenant_id and t.personal_of = r.user_id)
    or not exists (select 1 from tenancy.tenants t where t.id = r.tenant_id);

-- ============================================================================================
-- Triggers: tombstones say whether they are a personal tenant's
-- ============================================================================================
create or replace function tenancy_private.record_removal()
returns trigger
language plpgsql security definer set search_path = ''
as $$
begin
  -- When the user's own deletion cascades here, their auth.users row is already gone: nothing to remember.
  if exists (select 1 from auth.users u where u.id = old.user_id) then
    insert into tenancy.removed_memberships (user_id, tenant_id, personal)
    values (old.user_id, old.tenant_id,
            exists (select 1 from tenancy.tenants t where t.id = old.tenant_id and t.personal_of = old.user_id))
    on conflict (user_id, tenant_id)
      do update set removed_at = excluded.removed_at,
                    personal = tenancy.removed_memberships.personal or excluded.personal;
  end if;
  return null;
end;
$$;
comment on function tenancy_private.record_removal() is
  'Trigger function: records a tombstone for every deleted membership (marked personal when the tenant is the user''s personal one), unless the user themselves is being deleted.';

create function tenancy_private.record_personal_tenant_deletion()
returns trigger
language plpgsql security definer set search_path = ''
as $$
begin
  insert into tenancy.removed_memberships (user_id, tenant_id, personal)
  values (old.personal_of, old.id, true)
  on conflict (user_id, tenant_id) do update set personal = true;
  return old;
end;
$$;
comment on function tenancy_private.record_personal_tenant_deletion() is
  'Trigger function: before a personal tenant is deleted, its user''s tombstone for it is marked personal (the memberships'' cascade that follows cannot see the tenant any more).';

create trigger tenants_record_personal_deletion
  before delete on tenancy.tenants
  for each row when (old.personal_of is not null)
  execute function tenancy_private.record_personal_tenant_deletion();
comment on trigger tenants_record_personal_deletion on tenancy.tenants is
  'Deleting a user''s personal tenant is a removal from it: the personal strategy makes them no other.';

-- ============================================================================================
-- Provisioning: personal tenants are marked, and only their own removal stops a new one
-- ============================================================================================
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
        -- One personal tenant per user: none when they have one (they were removed from it, or it was
        -- deleted, which leaves a personal tombstone).
        if not p_is_anonymous
           and not exists (select 1 from tenancy.tenants t where t.personal_of = p_user_id)
           and not exists (select 1 from tenancy.removed_memberships r where r.user_id = p_user_id and r.personal) then
          insert into tenancy.tenants (name, personal_of) values ('Personal', p_user_id) returning id into personal_id;
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
  'Tries tenancy.provisioning_policy in order: invitation and domain need a proven email (null: skipped); personal is never given to anonymous users, nor to a user who has a personal tenant or was removed from theirs (tenancy.tenants.personal_of, removed_memberships.personal); domain and default skip a tenant the user was removed from. Call with the per-user advisory lock held.';

revoke all on function tenancy_private.record_personal_tenant_deletion() from public, anon, authenticated;
