-- Tenancy: every foreign key gets an index that covers it.
--
-- Why: deleting or re-keying a referenced row makes Postgres look for the rows that point at it (to
-- cascade, set null, or refuse). Without an index on the referencing column that look-up is a sequential
-- scan of the whole table, run while the delete holds its locks. Deleting one user (auth.admin.deleteUser)
-- with 300,000 users and 200,000 invitations took 90 ms, 83 ms of it in two scans of tenancy.invitations
-- (invited_by, accepted_by); Supabase's database advisor reports these as `unindexed_foreign_keys`.
-- tests/db/foreign_key_indexes_test.ts reads the catalog and names any foreign key left without one.
--
-- The keys this covers (the others already had an index whose leading columns are the key's):
--   - audit_log.actor_id: its two indexes are partial on one action each, which a user's deletion cannot use;
--   - invitations.invited_by and invitations.accepted_by (accepted_by is null until an invitation is
--     accepted, so its index leaves the nulls out: `accepted_by = $1` implies it is not null);
--   - the role of memberships, invitations, domain_claims and provisioning_policy, which reference
--     tenancy.roles: an operator deleting a role would otherwise scan 1,500,000 memberships.

create index audit_log_actor_id_idx on tenancy.audit_log (actor_id);
create index invitations_invited_by_idx on tenancy.invitations (invited_by);
create index invitations_accepted_by_idx on tenancy.invitations (accepted_by) where accepted_by is not null;
create index memberships_role_idx on tenancy.memberships (role);
create index invitations_role_idx on tenancy.invitations (role);
create index domain_claims_role_idx on tenancy.domain_claims (role);
create index provisioning_policy_role_idx on tenancy.provisioning_policy (role);
