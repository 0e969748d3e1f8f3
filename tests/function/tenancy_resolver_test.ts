/**
 * The tenancy resolver against real Postgres: the transaction as `authenticated`, the SQLSTATE mapping,
 * and what happens when Postgres is unreachable, hangs or restarts under a live pool.
 */
import assert from "node:assert/strict";
import { allowRoles, createTenant, createUser, openTestDatabase, setPolicy } from "../_db.ts";
import { functionDatabase } from "../_pooler.ts";
import { freePort } from "../../dev/ports.ts";
import { createTenancyResolver } from "../../supabase/functions/_shared/exchange/resolver.ts";
import { ApiError } from "../../supabase/functions/_shared/core/errors.ts";

// A project that confirms addresses by mail, as Auth's settings would say (email_trust.ts reads them).
const emailTrusted = () => Promise.resolve(true);

async function refusal(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof ApiError, `expected an ApiError, got ${err}`);
    return err.code;
  }
  return "accepted";
}

Deno.test("resolveTenant() against real Postgres", async (t) => {
  const db = await openTestDatabase();
  await allowRoles(db.sql, "viewer");
  // Directly, or through the transaction pooler with DB_POOLER=transaction.
  const target = await functionDatabase(db);
  const through = { databaseUrl: target.url, transactionPooler: target.transactionPooler };
  const tenancy = createTenancyResolver({ ...through, timeoutMs: 5000, emailTrusted, max: 2 });
  try {
    const acme = await createTenant(db.sql, "Acme", "acme-ext");
    const beta = await createTenant(db.sql, "Beta");

    await t.step("resolveTenant() gives a member their default tenant, by external id", async () => {
      const user = await createUser(db.sql);
      await db.sql`insert into tenancy.memberships (tenant_id, user_id, role, is_default)
                   values (${acme}, ${user.id}, 'admin', true), (${beta}, ${user.id}, 'user', false)`;
      assert.deepEqual(await tenancy.resolveTenant(user.claims, null), {
        tenantId: "acme-ext",
        tenantUuid: acme,
        role: "admin",
        provisioned: false,
        email: user.email,
      });
      assert.equal((await tenancy.resolveTenant(user.claims, beta)).tenantId, beta);
      assert.equal((await tenancy.resolveTenant(user.claims, "acme-ext")).tenantUuid, acme);
    });

    await t.step("resolveTenant() refuses a tenant the caller is not a member of", async () => {
      const user = await createUser(db.sql);
      await db
        .sql`insert into tenancy.memberships (tenant_id, user_id, is_default) values (${acme}, ${user.id}, true)`;
      assert.equal(await refusal(tenancy.resolveTenant(user.claims, beta)), "not_a_member");
      assert.equal(await refusal(tenancy.resolveTenant(user.claims, "no-such-tenant")), "not_a_member");
    });

    await t.step("resolveTenant() answers no_tenant when the policy provisions nothing", async () => {
      const user = await createUser(db.sql);
      assert.equal(await refusal(tenancy.resolveTenant(user.claims, null)), "no_tenant");
    });

    await t.step("resolveTenant() provisions by policy and says so", async () => {
      await setPolicy(db.sql, [{ strategy: "invitation" }, {
        strategy: "default",
        default_tenant_id: beta,
        role: "viewer",
      }]);
      try {
        const user = await createUser(db.sql);
        assert.deepEqual(await tenancy.resolveTenant(user.claims, null), {
          tenantId: beta,
          tenantUuid: beta,
          role: "viewer",
          provisioned: true,
          email: user.email,
        });
        assert.equal((await tenancy.resolveTenant(user.claims, null)).provisioned, false);
      } finally {
        await setPolicy(db.sql, [{ strategy: "invitation" }, { strategy: "domain" }]);
      }
    });

    await t.step(
      "resolveTenant() refuses a revoked session, a deleted or banned user with invalid_token",
      async () => {
        const revoked = await createUser(db.sql);
        await db
          .sql`insert into tenancy.memberships (tenant_id, user_id, is_default) values (${acme}, ${revoked.id}, true)`;
        await db.sql`delete from auth.sessions where id = ${revoked.sessionId}`;
        assert.equal(await refusal(tenancy.resolveTenant(revoked.claims, null)), "invalid_token");

        const banned = await createUser(db.sql);
        await db.sql`update auth.users set banned_until = now() + interval '1 day' where id = ${banned.id}`;
        assert.equal(await refusal(tenancy.resolveTenant(banned.claims, null)), "invalid_token");

        const deleted = await createUser(db.sql);
        await db.sql`update auth.users set deleted_at = now() where id = ${deleted.id}`;
        assert.equal(await refusal(tenancy.resolveTenant(deleted.claims, null)), "invalid_token");
      },
    );

    await t.step(
      "resolveTenant() runs as authenticated with the caller's claims, and leaves no setting behind",
      async () => {
        const user = await createUser(db.sql);
        await db
          .sql`insert into tenancy.memberships (tenant_id, user_id, is_default) values (${acme}, ${user.id}, true)`;
        await tenancy.resolveTenant(user.claims, null);
        // The same pooled connections now run a plain query: the role and claims were transaction-local.
        const probe = createTenancyResolver({ ...through, timeoutMs: 5000, emailTrusted, max: 1 });
        try {
          await probe.resolveTenant(user.claims, null);
          const other = await createUser(db.sql);
          assert.equal(await refusal(probe.resolveTenant(other.claims, null)), "no_tenant");
          assert.equal((await probe.resolveTenant(user.claims, null)).tenantUuid, acme);
        } finally {
          await probe.close();
        }
      },
    );

    await t.step(
      "resolveTenant() returns its connection to the pool after every kind of failure",
      async () => {
        const small = createTenancyResolver({ ...through, timeoutMs: 5000, emailTrusted, max: 1 });
        try {
          const member = await createUser(db.sql);
          await db
            .sql`insert into tenancy.memberships (tenant_id, user_id, is_default) values (${acme}, ${member.id}, true)`;
          const stranger = await createUser(db.sql);
          for (let i = 0; i < 5; i++) {
            assert.equal(await refusal(small.resolveTenant(member.claims, beta)), "not_a_member");
            assert.equal(await refusal(small.resolveTenant(stranger.claims, null)), "no_tenant");
            assert.equal(
              await refusal(small.resolveTenant({ role: "authenticated" }, null)),
              "invalid_token",
            );
          }
          assert.equal((await small.resolveTenant(member.claims, null)).tenantUuid, acme);
          // Ten at once on one connection: they queue, none is lost.
          const grants = await Promise.all(
            Array.from({ length: 10 }, () => small.resolveTenant(member.claims, null)),
          );
          assert.ok(grants.every((g) => g.tenantUuid === acme));
        } finally {
          await small.close();
        }
      },
    );

    await t.step("resolveTenant() answers database_unavailable, quickly, when nothing listens", async () => {
      const url = new URL(db.url);
      url.port = String(freePort());
      const down = createTenancyResolver({ databaseUrl: url.href, timeoutMs: 3000, emailTrusted });
      try {
        const started = performance.now();
        const user = await createUser(db.sql);
        assert.equal(await refusal(down.resolveTenant(user.claims, null)), "database_unavailable");
        assert.ok(performance.now() - started < 3000, "refused connections fail fast");
      } finally {
        await down.close(0);
      }
    });

    await t.step(
      "resolveTenant() answers database_unavailable within its timeout when Postgres hangs",
      async () => {
        // A server that accepts connections and never answers, like a blackholed host.
        const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
        const held: Deno.Conn[] = [];
        const accepting = (async () => {
          for await (const conn of listener) held.push(conn);
        })();
        const url = new URL(db.url);
        url.port = String((listener.addr as Deno.NetAddr).port);
        const hung = createTenancyResolver({ databaseUrl: url.href, timeoutMs: 1000, emailTrusted });
        try {
          const user = await createUser(db.sql);
          const started = performance.now();
          assert.equal(await refusal(hung.resolveTenant(user.claims, null)), "database_unavailable");
          const elapsed = performance.now() - started;
          assert.ok(elapsed >= 900 && elapsed < 4000, `answered after ${elapsed} ms`);
        } finally {
          await hung.close(0);
          for (const conn of held) conn.close();
          listener.close();
          await accepting.catch(() => {});
        }
      },
    );
  } finally {
    await tenancy.close();
    await target.close();
    await db.close();
  }
});

Deno.test({
  name: "resolveTenant() recovers from a Postgres restart without a new pool",
  ignore: Deno.env.get("DATABASE_URL") !== undefined,
  async fn() {
    const db = await openTestDatabase();
    const server = db.server!;
    const tenancy = createTenancyResolver({ databaseUrl: db.url, timeoutMs: 3000, emailTrusted, max: 2 });
    try {
      const acme = await createTenant(db.sql, "Acme");
      const user = await createUser(db.sql);
      await db
        .sql`insert into tenancy.memberships (tenant_id, user_id, is_default) values (${acme}, ${user.id}, true)`;
      await Promise.all([tenancy.resolveTenant(user.claims, null), tenancy.resolveTenant(user.claims, null)]);

      // Restarted between two requests: the pool's idle connections are dead; the next request works.
      await server.stop({ keepData: true });
      await server.start();
      assert.equal((await tenancy.resolveTenant(user.claims, null)).tenantUuid, acme);
      assert.equal((await tenancy.resolveTenant(user.claims, null)).tenantUuid, acme);

      // Down: 503. Back: the next request works.
      await server.stop({ keepData: true });
      assert.equal(await refusal(tenancy.resolveTenant(user.claims, null)), "database_unavailable");
      assert.equal(await refusal(tenancy.resolveTenant(user.claims, null)), "database_unavailable");
      await server.start();
      assert.equal((await tenancy.resolveTenant(user.claims, null)).tenantUuid, acme);
      const again = await Promise.all(
        Array.from({ length: 6 }, () => tenancy.resolveTenant(user.claims, null)),
      );
      assert.ok(again.every((g) => g.tenantUuid === acme));
    } finally {
      await tenancy.close();
      await db.close();
    }
  },
});
