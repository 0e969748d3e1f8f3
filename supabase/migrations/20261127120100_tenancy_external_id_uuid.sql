-- Tenancy: an external_id never names another tenant's uuid.
--
-- The backend JWT's tenant_id is external_id when set, else the uuid. A tenant whose external_id is another
-- tenant's uuid would make the backend tokens of both carry the same tenant_id, and a request naming that
-- string could mean either. So an external_id that reads as a uuid, in any spelling a parser accepts
-- (upper case, braces, `urn:uuid:`, hyphens anywhere or none, as Postgres' and Python's uuid parsers take
-- them), must be the tenant's own id: a backend id that is a uuid goes in `id` (the import recipe does that),
-- and external_id may keep its exact spelling. With this rule no two tenants can share a tenant_id: a uuid-like
-- external_id equals its own (unique) id, and any other external_id is unique and never a uuid.
--
-- Pushing this migration fails with "violates check constraint tenants_external_id_uuid_is_own_id" if such a
-- tenant already exists; give it its own id or another external_id, then push again.

create function tenancy_private.uuid_spelled_by(p_text text)
returns uuid
language plpgsql immutable strict set search_path = ''
as $$
declare
  digits text := regexp_replace(lower(p_text), '\s|urn:|uuid:|[{}-]', '', 'g');
begin
  if digits ~ '^[0-9a-f]{32}$' then
    return digits::uuid;
  end if;
  return null;
end;
$$;
comment on function tenancy_private.uuid_spelled_by(text) is
  'The uuid a text spells in any form a uuid parser accepts (case, braces, urn:uuid:, hyphens anywhere or none), else null. Used by the tenants_external_id_uuid_is_own_id check and the import recipe.';
revoke all on function tenancy_private.uuid_spelled_by(text) from public, anon, authenticated;

alter table tenancy.tenants add constraint tenants_external_id_uuid_is_own_id
  check (tenancy_private.uuid_spelled_by(external_id) is null or tenancy_private.uuid_spelled_by(external_id) = id);
comment on constraint tenants_external_id_uuid_is_own_id on tenancy.tenants is
  'An external_id that reads as a uuid must be this tenant''s own id, so that no two tenants'' backend tokens carry the same tenant_id.';
