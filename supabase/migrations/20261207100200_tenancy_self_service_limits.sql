-- Tenancy: self-service creation is bounded, and closed to anonymous users.
--
-- With tenancy.management_settings.self_service_tenants on, one user created 1,025 tenants in 4.6 s. Two
-- settings bound it, beside the invitation limits:
--   max_self_service_tenants_per_user   tenants a user created from the app and still belongs to, in any
--                                       role (default 10; their personal tenant and tenants an operator gave
--                                       them do not count; counting only owned ones would let a user make
--                                       another account owner, step down to admin, and go on); one more is
--                                       TNCFL (409): leave one first;
--   max_tenants_created_per_user_per_hour  creations in any hour (default 10), counted from the audit trail
--                                       so that deleting a tenant does not give the creation back; one more
--                                       is TNLIM (429) with the seconds to wait.
-- tenants.created_by records who created a tenant from the app (null for the operator's and personal ones),
-- so the cap counts exactly those. An anonymous caller creates nothing (TNFBD), as they manage nothing
-- (20261207100100).

alter table tenancy.management_settings
  add column max_self_service_tenants_per_user integer not null default 10
    check (max_self_service_tenants_per_user >= 0),
  add column max_tenants_created_per_user_per_hour integer not null default 10
    check (max_tenants_created_per_user_per_hour >= 0);
comment on column tenancy.management_settings.max_self_service_tenants_per_user is
  'Tenants created from the app (tenants.created_by) that one user may still belong to, in any role; one more is refused with TNCFL (409). The personal tenant does not count.';
comment on column tenancy.management_settings.max_tenants_created_per_user_per_hour is
  'Tenants one user may create from the app in any hour (counted from tenancy.audit_log); one more is refused with TNLIM (429).';

alter table tenancy.tenants add column created_by uuid references auth.users (id) on delete set null;
comment on column tenancy.tenants.created_by is
  'The user who created the tenant from the app (POST /tenants); null for tenants made by the operator or by the personal strategy. The self-service cap counts these.';
-- The cap's count, and the foreign key's lookup when a user is deleted.
create index tenants_created_by_idx on tenancy.tenants (created_by) where created_by is not null;
-- The hourly count reads a user's creations, as the invitation limit reads their sends.
create index audit_log_tenants_created_idx on tenancy.audit_log (actor_id, at) where action = 'tenant.created';

-- Tenants created before this migration: their creator is the actor of their tenant.created audit row.
update tenancy.tenants t set created_by = a.actor_id
  from tenancy.audit_log a
 where a.tenant_id = t.id and a.action = 'tenant.created' and a.actor_id is not null
   and exists (select 1 from auth.users u where u.id = a.actor_id);

create or replace function tenancy.create_tenant(p_name text)
returns table (tenant_id text, tenant_uuid uuid, name text, role text, is_default boolean)
language plpgsql security definer set search_path = ''
as $$
declare
  caller record := tenancy_private.live_caller();
  new_name text := tenancy_private.checked_name(p_name);
  settings tenancy.management_settings;
  counted bigint;
  oldest timestamptz;
  new_id uuid;
begin
  select * into settings from tenancy.management_settings;
  if not settings.self_service_tenants then
    raise exception 'creating tenants from the app is off (tenancy.management_settings.self_service_tenants)'
      using errcode = 'TNFBD';
  end if;
  -- live_caller() read the flag from auth.users already: the account, not the token, decides.
  if caller.is_anonymous then
    raise exception 'anonymous users create no tenant: sign up with an email address first' using errcode = 'TNFBD';
  end if;

  -- One user's creations one at a time: the counts below must see the previous one.
  perform pg_advisory_xact_lock(hashtextextended('tenancy.tenants_created:' || caller.user_id::text, 0));
  select count(*) into counted from tenancy.tenants t
   where t.created_by = caller.user_id
     and exists (select 1 from tenancy.memberships m
                  where m.tenant_id = t.id and m.user_id = caller.user_id);
  if counted >= settings.max_self_service_tenants_per_user then
    raise exception 'you already belong to % tenants you created from the app, the most allowed; leave one first',
      counted using errcode = 'TNCFL';
  end if;
  select count(*), min(a.at) into counted, oldest from tenancy.audit_log a
   where a.actor_id = caller.user_id and a.action = 'tenant.created' and a.at > now() - interval '1 hour';
  if counted >= settings.max_tenants_created_per_user_per_hour then
    raise exception 'too many tenants created in the last hour'
      using errcode = 'TNLIM',
            detail = greatest(1, coalesce(ceil(extract(epoch from oldest + interval '1 hour' - now())), 3600))::bigint::text;
  end if;

  insert into tenancy.tenants (name, created_by) values (new_name, caller.user_id) returning id into new_id;
  perform tenancy_private.add_membership(caller.user_id, new_id, 'owner');
  perform tenancy_private.audit(new_id, caller.user_id, 'tenant.created', p_after => jsonb_build_object('name', new_name));
  return query select * from tenancy_private.tenants_of(caller.user_id, new_id);
end;
$$;
comment on function tenancy.create_tenant(text) is
  'POST /tenants: a new tenant with the caller as owner (their default if it is their first), only where tenancy.management_settings.self_service_tenants is on and the caller is not anonymous (else TNFBD); at most max_self_service_tenants_per_user created and still belonged to (TNCFL) and max_tenants_created_per_user_per_hour created in an hour (TNLIM, DETAIL: seconds to wait).';
