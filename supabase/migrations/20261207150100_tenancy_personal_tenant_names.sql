-- Tenancy: a personal tenant is named for its owner ("Ada's workspace"), not "Personal".
--
-- Why: every personal tenant was called "Personal", so an invitation read "Personal invites you" (whose?)
-- and a user in two people's personal tenants saw two of the same name. The name now comes from the owner's
-- proven address (the one the exchange passes to provision(): confirmed, and verified by an identity), never
-- from user_metadata or anything else the caller can write unchecked: its local part, before any `+tag`, with
-- dots, dashes and underscores as spaces and each word capitalised. "ada.lovelace+work@example.com" gives
-- "Ada Lovelace's workspace". Without a proven address (none is needed for a personal tenant) it is
-- "Personal workspace". The owner renames it as they like (PATCH /tenants/{tenant}).
--
-- Existing personal tenants keep their name: renaming people's tenants behind their back is the operator's
-- call (update tenancy.tenants set name = ... where personal_of = ...).

create function tenancy_private.personal_tenant_name(p_proven_email text)
returns text
language plpgsql immutable set search_path = ''
as $$
declare
  words text := initcap(btrim(regexp_replace(
    split_part(split_part(coalesce(p_proven_email, ''), '@', 1), '+', 1), '[._-]+', ' ', 'g')));
begin
  if words = '' then
    return 'Personal workspace';
  end if;
  -- A local part is at most 64 characters, so the name stays well within the 200 tenants.name allows.
  return left(words, 64) || '''s workspace';
end;
$$;
comment on function tenancy_private.personal_tenant_name(text) is
  'The name of a personal tenant: "<Local Part>''s workspace" from the owner''s proven address (never from anything the caller writes), or "Personal workspace" without one.';
revoke all on function tenancy_private.personal_tenant_name(text) from public, anon, authenticated;

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
          insert into tenancy.tenants (name, personal_of)
          values (tenancy_private.personal_tenant_name(p_confirmed_email), p_user_id) returning id into personal_id;
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
  'Tries tenancy.provisioning_policy in order: invitation and domain need a proven email (null: skipped); personal is never given to anonymous users, nor to a user who has a personal tenant or was removed from theirs (tenancy.tenants.personal_of, removed_memberships.personal), and is named for the owner''s proven address (personal_tenant_name); domain and default skip a tenant the user was removed from. Call with the per-user advisory lock held.';
