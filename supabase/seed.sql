-- Local demo data, applied by the local stack (`deno task dev`) and by `supabase db reset`.
-- Never pushed to a hosted project unless you ask for it (`supabase db push --include-seed`).
--
-- A demo tenant that every confirmed @example.com address joins, and a policy under which anyone else gets
-- a personal tenant of their own (as owner).

insert into tenancy.tenants (id, external_id, name)
values ('00000000-0000-4000-8000-000000000001', 'demo', 'Demo tenant')
on conflict (id) do nothing;

insert into tenancy.domain_claims (domain, tenant_id, role)
values ('example.com', '00000000-0000-4000-8000-000000000001', 'user')
on conflict (domain) do nothing;

insert into tenancy.provisioning_policy (position, strategy, role)
values (3, 'personal', 'owner')
on conflict (position) do nothing;
