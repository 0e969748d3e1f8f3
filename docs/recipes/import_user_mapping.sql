-- Import an existing user -> tenant mapping into the tenancy schema (docs/tenancy.md, "Importing an existing mapping").
--
-- Input: public.supabase_user_mapping(supabase_user_id uuid, tenant_id text, email text), one row per user
-- and tenant, as the Python backend knows them. Run it as `postgres`: in the SQL editor, with `psql -f`, or
-- with `supabase db query -f` (it is one statement, so all of it applies or none). Running it again adds
-- only what is missing (rows added to the mapping since, say).
--
-- What it does:
-- - One tenant per distinct backend tenant_id. An id that spells a uuid (in any form: lower or upper case,
--   braces, no hyphens) becomes tenancy.tenants.id, and, unless it is the canonical lower-case form, its
--   external_id too (a tenant's external_id may only spell its own uuid); any other id becomes external_id.
--   Either way the backend JWT's tenant_id is the backend's exact string.
-- - A user with a live account in auth.users becomes a member at once (no email confirmation needed: the
--   backend already trusted this mapping). A user without one (not signed up yet) gets an invitation to
--   the mapping's email instead, valid 90 days, accepted on their first exchange once that email is
--   confirmed. A second run invites again only where the earlier invitation expired unused.
-- - Each tenant's owner (role 'owner') is the member whose Supabase account is oldest, else (no member has
--   an account yet) the invitee whose email sorts first; everyone else gets role 'user'.
-- - A user in several tenants gets the first by backend tenant_id as their default (the tenant an exchange
--   without tenant_id picks), unless they already have a default.
-- - A row it cannot import (no tenant_id; or no account and no usable email) stops it before anything is
--   written: fix or delete those rows, then run it again.
do $import$
declare
  refused text;
begin
  create temporary table import_rows as
  select distinct on (m.supabase_user_id, m.tenant_id::text)
         m.supabase_user_id::uuid as user_id,
         m.tenant_id::text as backend_tenant_id,
         tenancy_private.uuid_spelled_by(m.tenant_id::text) as spelled_uuid,
         nullif(lower(trim(m.email)), '') as email,
         u.id is not null as has_account,
         u.created_at as account_created_at
    from public.supabase_user_mapping m
    left join auth.users u on u.id = m.supabase_user_id::uuid and u.deleted_at is null
   order by m.supabase_user_id, m.tenant_id::text;

  select string_agg(format('(%s, %s, %s)', coalesce(user_id::text, 'null'), coalesce(backend_tenant_id, 'null'),
                           coalesce(email, 'null')), ', ')
    into refused
    from import_rows
   where backend_tenant_id is null or (not has_account and coalesce(email, '') not like '_%@_%');
  if refused is not null then
    raise exception 'supabase_user_mapping has rows that cannot be imported (no tenant_id, or no account and no email): %',
      refused;
  end if;

  -- The tenants. Their name is the backend id; rename them afterwards as you like.
  -- Two spellings of one uuid are one tenant (the first spelling names it).
  insert into tenancy.tenants (id, external_id, name)
  select distinct on (spelled_uuid)
         spelled_uuid, nullif(backend_tenant_id, spelled_uuid::text), left(backend_tenant_id, 200)
    from import_rows where spelled_uuid is not null
   order by spelled_uuid, backend_tenant_id
  on conflict do nothing;

  insert into tenancy.tenants (external_id, name)
  select distinct backend_tenant_id, left(backend_tenant_id, 200) from import_rows where spelled_uuid is null
  on conflict (external_id) do nothing;

  create temporary table import_grants as
  select r.*,
         t.id as tenant_uuid,
         case when row_number() over (
                partition by r.backend_tenant_id
                order by r.account_created_at nulls last, r.email nulls last, r.user_id) = 1
              then 'owner' else 'user' end as role,
         row_number() over (partition by r.user_id order by r.backend_tenant_id) = 1 as first_of_user
    from import_rows r
    join tenancy.tenants t
      on case when r.spelled_uuid is not null then t.id = r.spelled_uuid else t.external_id = r.backend_tenant_id end;

  -- Users who have an account: members now.
  insert into tenancy.memberships (tenant_id, user_id, role, is_default)
  select g.tenant_uuid, g.user_id, g.role,
         g.first_of_user and not exists (
           select 1 from tenancy.memberships m where m.user_id = g.user_id and m.is_default)
    from import_grants g
   where g.has_account
  on conflict (tenant_id, user_id) do nothing;

  -- Users who have none yet: invited by email, unless an invitation of theirs to the tenant was accepted or
  -- is still pending (so a second run renews only the expired ones).
  insert into tenancy.invitations (tenant_id, email, role, expires_at)
  select g.tenant_uuid, g.email, g.role, now() + interval '90 days'
    from import_grants g
   where not g.has_account
     and not exists (
       select 1 from tenancy.invitations i
        where i.tenant_id = g.tenant_uuid and i.email = g.email and (i.accepted_at is not null or i.expires_at > now()));

  drop table import_grants;
  drop table import_rows;
end
$import$;
