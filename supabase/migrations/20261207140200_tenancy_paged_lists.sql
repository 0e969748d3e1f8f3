-- Tenancy: the management lists answer one page at a time.
--
-- Why: GET /tenants/{t}/members and …/invitations returned every row, in one transaction, every time: a
-- company tenant that a domain claim filled with 50,000 people answered with all of them. Now each list
-- (tenancy.list_tenants, list_members, list_invitations, my_invitations) takes p_after and p_limit, as
-- tenancy.list_audit takes p_before and p_limit (20261128150200): at most p_limit rows (1 to 100) after the
-- row whose `cursor` column is p_after, in a stable order:
--   - members by (joined_at, user_id), oldest first;
--   - a tenant's invitations, and the caller's own, newest first by (created_at, id) (the id now descends
--     too, where it used to ascend, so that one row comparison marks the page's start);
--   - the caller's tenants, default first, then by (name, tenant uuid).
--
-- How: keyset pagination. A row's `cursor` spells its sort key, and the next page is the rows whose key
-- compares greater (or less) than the cursor's, so a page costs the same deep in the list as at its start
-- and a row added or removed meanwhile never shifts the rest. The members and invitations pages read an
-- index in their order (created here); a caller's tenants are few (memberships_user_id_idx) and sorted.
-- A cursor is text the function made: `<microseconds since 1970>.<uuid>` for a (time, id) key, and
-- `<0 default|1 other>.<uuid>.<the name's UTF-8 in hex>` for a tenant. Anything else is TNBAD (400).
-- The lists stay security definer behind tenancy_private.authorize (and live_caller), as before.
--
-- A function's result columns cannot change with `create or replace`, so each list is dropped and created
-- again with the same privileges (EXECUTE for authenticated). Nothing in SQL calls them.

-- ============================================================================================
-- Indexes the pages read in order
-- ============================================================================================
create index memberships_tenant_id_created_at_user_id_idx on tenancy.memberships (tenant_id, created_at, user_id);
-- Pending only: accepted invitations stay for the record and are never listed.
create index invitations_pending_tenant_id_created_at_id_idx on tenancy.invitations (tenant_id, created_at, id)
  where accepted_at is null;

-- ============================================================================================
-- Private helpers: the page size and the cursors
-- ============================================================================================
create function tenancy_private.checked_limit(p_limit integer)
returns integer
language plpgsql immutable set search_path = ''
as $$
begin
  if p_limit is null or p_limit not between 1 and 100 then
    raise exception 'limit is 1 to 100' using errcode = 'TNBAD';
  end if;
  return p_limit;
end;
$$;
comment on function tenancy_private.checked_limit(integer) is
  'A page size as the lists accept it: 1 to 100, else TNBAD.';

create function tenancy_private.time_cursor(p_at timestamptz, p_id uuid)
returns text
language sql immutable set search_path = ''
as $$
  -- extract(epoch) is numeric: the microseconds are exact.
  select (extract(epoch from p_at) * 1000000)::bigint::text || '.' || p_id::text;
$$;
comment on function tenancy_private.time_cursor(timestamptz, uuid) is
  'The cursor of a row of a list ordered by (a time, a uuid): its microseconds since 1970, a dot, its uuid.';

create function tenancy_private.time_cursor_key(p_after text, out at timestamptz, out id uuid)
language plpgsql immutable strict set search_path = ''
as $$
begin
  if p_after !~ '^[0-9]{1,16}\.[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' then
    raise exception 'after is not a cursor of this list' using errcode = 'TNBAD';
  end if;
  at := 'epoch'::timestamptz + split_part(p_after, '.', 1)::bigint * interval '1 microsecond';
  id := split_part(p_after, '.', 2)::uuid;
end;
$$;
comment on function tenancy_private.time_cursor_key(text) is
  'The (time, uuid) key a tenancy_private.time_cursor spells (nulls for a null cursor); anything else is TNBAD.';

create function tenancy_private.tenant_cursor(p_is_default boolean, p_name text, p_id uuid)
returns text
language sql immutable set search_path = ''
as $$
  select case when p_is_default then '0' else '1' end || '.' || p_id::text || '.'
         || encode(convert_to(p_name, 'UTF8'), 'hex');
$$;
comment on function tenancy_private.tenant_cursor(boolean, text, uuid) is
  'The cursor of a row of the caller''s tenants: 0 for their default (else 1), its uuid, its name''s UTF-8 in hex.';

create function tenancy_private.tenant_cursor_key(p_after text, out other boolean, out name text, out id uuid)
language plpgsql immutable strict set search_path = ''
as $$
begin
  -- A name is at most 200 characters, 4 bytes each in UTF-8: 1,600 hex digits after the 40 before them.
  if length(p_after) > 1640
     or p_after !~ '^[01]\.[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\.([0-9a-f]{2})+$' then
    raise exception 'after is not a cursor of this list' using errcode = 'TNBAD';
  end if;
  other := split_part(p_after, '.', 1) = '1';
  id := split_part(p_after, '.', 2)::uuid;
  name := convert_from(decode(split_part(p_after, '.', 3), 'hex'), 'UTF8');
exception
  when character_not_in_repertoire or untranslatable_character then
    raise exception 'after is not a cursor of this list' using errcode = 'TNBAD';
end;
$$;
comment on function tenancy_private.tenant_cursor_key(text) is
  'The (not default, name, uuid) key a tenancy_private.tenant_cursor spells (nulls for a null cursor); anything else, bytes that are not UTF-8 included, is TNBAD.';

-- ============================================================================================
-- The lists
-- ============================================================================================
drop function tenancy.list_tenants();
create function tenancy.list_tenants(p_after text default null, p_limit integer default 50)
returns table (tenant_id text, tenant_uuid uuid, name text, role text, is_default boolean, cursor text)
language plpgsql stable security definer set search_path = ''
as $$
declare
  caller record := tenancy_private.live_caller();
  page_size integer := tenancy_private.checked_limit(p_limit);
  after_other boolean;
  after_name text;
  after_id uuid;
begin
  select * into after_other, after_name, after_id from tenancy_private.tenant_cursor_key(p_after);
  return query
  select coalesce(t.external_id, t.id::text), t.id, t.name, m.role, m.is_default,
         tenancy_private.tenant_cursor(m.is_default, t.name, t.id)
    from tenancy.memberships m
    join tenancy.tenants t on t.id = m.tenant_id
   where m.user_id = caller.user_id
     and (p_after is null or (not m.is_default, t.name, t.id) > (after_other, after_name, after_id))
   order by not m.is_default, t.name, t.id
   limit page_size;
end;
$$;
comment on function tenancy.list_tenants(text, integer) is
  'GET /tenants: a page of the caller''s tenants with their role in each, default first, then by name and uuid: p_limit (1-100) after the row whose cursor is p_after.';

drop function tenancy.list_members(text);
create function tenancy.list_members(p_tenant text, p_after text default null, p_limit integer default 50)
returns table (user_id uuid, email text, role text, joined_at timestamptz, cursor text)
language plpgsql stable security definer set search_path = ''
as $$
declare
  caller record := tenancy_private.live_caller();
  membership tenancy.memberships := tenancy_private.authorize(caller.user_id, p_tenant, 'read');
  page_size integer := tenancy_private.checked_limit(p_limit);
  after_at timestamptz;
  after_id uuid;
begin
  select * into after_at, after_id from tenancy_private.time_cursor_key(p_after);
  -- No cursor starts below every key, so that one row comparison reads the index from where it starts.
  return query
  select m.user_id, lower(u.email)::text, m.role, m.created_at, tenancy_private.time_cursor(m.created_at, m.user_id)
    from tenancy.memberships m
    join auth.users u on u.id = m.user_id
   where m.tenant_id = membership.tenant_id
     and (m.created_at, m.user_id) > (coalesce(after_at, '-infinity'), coalesce(after_id, '00000000-0000-0000-0000-000000000000'))
   order by m.created_at, m.user_id
   limit page_size;
end;
$$;
comment on function tenancy.list_members(text, text, integer) is
  'GET /tenants/{tenant}/members: a page of the members of a tenant the caller belongs to (any role), by (joined_at, user_id): p_limit (1-100) after the row whose cursor is p_after.';

drop function tenancy.list_invitations(text);
create function tenancy.list_invitations(p_tenant text, p_after text default null, p_limit integer default 50)
returns table (id uuid, email text, role text, invited_by uuid, invited_by_email text,
               created_at timestamptz, expires_at timestamptz, cursor text)
language plpgsql stable security definer set search_path = ''
as $$
declare
  caller record := tenancy_private.live_caller();
  actor tenancy.memberships := tenancy_private.authorize(caller.user_id, p_tenant, 'manage');
  page_size integer := tenancy_private.checked_limit(p_limit);
  after_at timestamptz;
  after_id uuid;
begin
  select * into after_at, after_id from tenancy_private.time_cursor_key(p_after);
  return query
  select i.id, i.email, i.role, i.invited_by, lower(u.email)::text, i.created_at, i.expires_at,
         tenancy_private.time_cursor(i.created_at, i.id)
    from tenancy.invitations i
    left join auth.users u on u.id = i.invited_by
   where i.tenant_id = actor.tenant_id and i.accepted_at is null and i.expires_at > now()
     and (i.created_at, i.id) < (coalesce(after_at, 'infinity'), coalesce(after_id, 'ffffffff-ffff-ffff-ffff-ffffffffffff'))
   order by i.created_at desc, i.id desc
   limit page_size;
end;
$$;
comment on function tenancy.list_invitations(text, text, integer) is
  'GET /tenants/{tenant}/invitations: a page of the tenant''s pending invitations, newest first by (created_at, id): p_limit (1-100) after the row whose cursor is p_after; owners and admins only.';

drop function tenancy.my_invitations();
create function tenancy.my_invitations(p_after text default null, p_limit integer default 50)
returns table (id uuid, tenant_id text, tenant_name text, role text, invited_by_email text,
               expires_at timestamptz, cursor text)
language plpgsql stable security definer set search_path = ''
as $$
declare
  caller record := tenancy_private.live_caller();
  page_size integer := tenancy_private.checked_limit(p_limit);
  after_at timestamptz;
  after_id uuid;
begin
  select * into after_at, after_id from tenancy_private.time_cursor_key(p_after);
  return query
  select i.id, coalesce(t.external_id, t.id::text), t.name, i.role, lower(u.email)::text, i.expires_at,
         tenancy_private.time_cursor(i.created_at, i.id)
    from tenancy_private.acceptable_invitations(caller.user_id, tenancy_private.caller_proven_email(caller.user_id)) i
    join tenancy.tenants t on t.id = i.tenant_id
    left join auth.users u on u.id = i.invited_by
   where (i.created_at, i.id) < (coalesce(after_at, 'infinity'), coalesce(after_id, 'ffffffff-ffff-ffff-ffff-ffffffffffff'))
   order by i.created_at desc, i.id desc
   limit page_size;
end;
$$;
comment on function tenancy.my_invitations(text, integer) is
  'GET /invitations: a page of the caller''s pending invitations, by their proven address (none without one), newest first by (created_at, id): p_limit (1-100) after the row whose cursor is p_after.';

-- ============================================================================================
-- Grants
-- ============================================================================================
revoke all on function tenancy_private.checked_limit(integer) from public, anon, authenticated;
revoke all on function tenancy_private.time_cursor(timestamptz, uuid) from public, anon, authenticated;
revoke all on function tenancy_private.time_cursor_key(text) from public, anon, authenticated;
revoke all on function tenancy_private.tenant_cursor(boolean, text, uuid) from public, anon, authenticated;
revoke all on function tenancy_private.tenant_cursor_key(text) from public, anon, authenticated;

revoke all on function tenancy.list_tenants(text, integer) from public, anon;
revoke all on function tenancy.list_members(text, text, integer) from public, anon;
revoke all on function tenancy.list_invitations(text, text, integer) from public, anon;
revoke all on function tenancy.my_invitations(text, integer) from public, anon;
grant execute on function tenancy.list_tenants(text, integer) to authenticated;
grant execute on function tenancy.list_members(text, text, integer) to authenticated;
grant execute on function tenancy.list_invitations(text, text, integer) to authenticated;
grant execute on function tenancy.my_invitations(text, integer) to authenticated;
