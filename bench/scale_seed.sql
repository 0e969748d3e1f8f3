-- bench/scale_seed.sql: the `deno task bench --scale` data set, seeded in SQL by bench/scale.ts.
--
-- Sizes follow bench.users (U, 1,000,000 for the full run, 10,000 for the smoke): U users with an email
-- identity and a session each, as Auth makes them (one precomputed bcrypt hash, bench.password_hash, for
-- all: hashing each would take hours on 2 cores); U/10 tenants; 1.5 U memberships, of which the first
-- tenant ("the big tenant") has U/20 (50,000); U/5 pending invitations (U/40 of them to the big tenant);
-- U/100 domain claims; 2 U audit rows (U/10 of them the big tenant's). Ids are md5 of a name and a number,
-- so that scale.ts finds user n, tenant t or session n without a look-up.
--
-- Runs as `postgres`, as the tests arrange data: the triggers and foreign keys all run, row by row.

select set_config('bench.tenants', (current_setting('bench.users')::int / 10)::text, false),
       set_config('bench.big', least(50000, current_setting('bench.users')::int / 20)::text, false);

-- Auth: users, their email identities and sessions ------------------------------------------------------
insert into auth.users (instance_id, id, aud, role, email, encrypted_password, email_confirmed_at,
                        last_sign_in_at, raw_app_meta_data, raw_user_meta_data, created_at, updated_at,
                        confirmation_token, recovery_token, email_change_token_new, email_change)
select '00000000-0000-0000-0000-000000000000', md5('scale-user-' || n)::uuid, 'authenticated', 'authenticated',
       'user-' || n || '@scale-' || ((n - 1) % current_setting('bench.tenants')::int + 1) || '.test',
       current_setting('bench.password_hash'), now() - interval '30 days', now(),
       '{"provider": "email", "providers": ["email"]}', '{"email_verified": true}',
       now() - interval '30 days', now(), '', '', '', ''
  from generate_series(1, current_setting('bench.users')::int) n;

insert into auth.identities (provider_id, user_id, identity_data, provider, last_sign_in_at, created_at, updated_at)
select u.id::text, u.id,
       jsonb_build_object('sub', u.id::text, 'email', u.email, 'email_verified', true, 'phone_verified', false),
       'email', now(), u.created_at, now()
  from auth.users u where u.email like 'user-%@scale-%.test';

insert into auth.sessions (id, user_id, created_at, updated_at, aal)
select md5('scale-session-' || n)::uuid, md5('scale-user-' || n)::uuid, now(), now(), 'aal1'
  from generate_series(1, current_setting('bench.users')::int) n;

-- Tenancy ----------------------------------------------------------------------------------------------
insert into tenancy.tenants (id, external_id, name, created_at)
select md5('scale-tenant-' || t)::uuid, 'scale-' || t, 'Scale tenant ' || t, now() - interval '30 days'
  from generate_series(1, current_setting('bench.tenants')::int) t;

-- Everyone's own tenant (user t owns tenant t), their default; joined over the last 30 days.
insert into tenancy.memberships (tenant_id, user_id, role, is_default, created_at)
select md5('scale-tenant-' || ((n - 1) % current_setting('bench.tenants')::int + 1))::uuid,
       md5('scale-user-' || n)::uuid,
       case when n <= current_setting('bench.tenants')::int then 'owner' else 'user' end, true,
       now() - (n % 43200) * interval '1 minute'
  from generate_series(1, current_setting('bench.users')::int) n;

-- The big tenant: users 1 .. U/20 (user 1 is its owner already).
insert into tenancy.memberships (tenant_id, user_id, role, created_at)
select md5('scale-tenant-1')::uuid, md5('scale-user-' || n)::uuid, 'user', now() - (n % 43200) * interval '1 minute'
  from generate_series(2, current_setting('bench.big')::int) n
 where (n - 1) % current_setting('bench.tenants')::int <> 0;

-- A second tenant for as many more as make 1.5 U memberships.
insert into tenancy.memberships (tenant_id, user_id, role, created_at)
select md5('scale-tenant-' || ((n + 1) % current_setting('bench.tenants')::int + 1))::uuid,
       md5('scale-user-' || n)::uuid, 'user', now() - (n % 43200) * interval '1 minute'
  from generate_series(current_setting('bench.big')::int + 1,
                       current_setting('bench.big')::int
                       + (current_setting('bench.users')::int * 3 / 2)
                       - (select count(*)::int from tenancy.memberships)) n;

-- Pending invitations, each sent by its tenant's owner; the first U/40 to the big tenant.
insert into tenancy.invitations (tenant_id, email, role, invited_by, created_at, expires_at)
select md5('scale-tenant-' || t)::uuid, 'invitee-' || n || '@invitee.test', 'user', md5('scale-user-' || t)::uuid,
       now() - (n % 10080) * interval '1 minute', now() + interval '7 days'
  from generate_series(1, current_setting('bench.users')::int / 5) n,
       lateral (select case when n <= current_setting('bench.users')::int / 40 then 1
                            else (n - 1) % current_setting('bench.tenants')::int + 1 end) tt(t);

insert into tenancy.domain_claims (domain, tenant_id)
select 'scale-' || t || '.test', md5('scale-tenant-' || t)::uuid
  from generate_series(1, current_setting('bench.users')::int / 100) t;

-- The audit trail; the first U/10 rows the big tenant's.
insert into tenancy.audit_log (tenant_id, at, actor_id, actor_email, action, target_user_id, target_email,
                               before, after)
select md5('scale-tenant-' || t)::uuid, now() - n * interval '1 second', md5('scale-user-' || t)::uuid,
       'user-' || t || '@scale.test', 'member.role_changed', md5('scale-user-' || (n % current_setting('bench.users')::int + 1))::uuid,
       'user-' || (n % current_setting('bench.users')::int + 1) || '@scale.test', '{"role": "user"}', '{"role": "admin"}'
  from generate_series(1, current_setting('bench.users')::int * 2) n,
       lateral (select case when n <= current_setting('bench.users')::int / 10 then 1
                            else (n - 1) % current_setting('bench.tenants')::int + 1 end) tt(t);
