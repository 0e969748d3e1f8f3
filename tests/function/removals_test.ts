/**
 * Removals stick, replayed from outside: a user signs up through the Auth emulator, the function gives them
 * a tenant, an operator deletes the membership with SQL, and the next exchange does not give it back.
 */
import assert from "node:assert/strict";
import { createTenant, setPolicy } from "../_db.ts";
import { exchangeRequest, openHarness, signUp } from "./_setup.ts";

async function exchange(handler: (req: Request) => Promise<Response>, token: string) {
  const res = await handler(exchangeRequest(token));
  const body = await res.json();
  return { status: res.status, code: body.error as string | undefined, tenantId: body.tenant_id as string };
}

Deno.test("a member removed by SQL is not provisioned again by their next exchange", async (t) => {
  const h = await openHarness();
  try {
    const { sql } = h.db;
    const acme = await createTenant(sql, "Acme", "acme-fn");
    await sql`insert into tenancy.domain_claims (domain, tenant_id) values ('acme-fn.example', ${acme})`;
    await setPolicy(sql, [{ strategy: "invitation" }, { strategy: "domain" }, { strategy: "personal" }]);

    await t.step(
      "the domain strategy does not undo the removal; the personal one gives their own tenant",
      async () => {
        const user = await signUp(h.auth, "mal@acme-fn.example");
        assert.deepEqual(await exchange(h.app.handler, user.accessToken), {
          status: 200,
          code: undefined,
          tenantId: "acme-fn",
        });
        await sql`delete from tenancy.memberships where user_id = ${user.userId}`;
        const next = await exchange(h.app.handler, user.accessToken);
        assert.equal(next.status, 200);
        assert.notEqual(next.tenantId, "acme-fn");
        const [{ count }] = await sql`select count(*)::int from tenancy.memberships m
                                      join tenancy.tenants t on t.id = m.tenant_id
                                     where m.user_id = ${user.userId} and t.personal_of = ${user.userId}`;
        assert.equal(count, 1, "a removal from another tenant leaves them their personal one");
      },
    );

    await t.step("a new invitation brings them back", async () => {
      const user = await signUp(h.auth, "kay@acme-fn.example");
      await exchange(h.app.handler, user.accessToken);
      await sql`delete from tenancy.memberships where user_id = ${user.userId}`;
      await sql`insert into tenancy.invitations (tenant_id, email) values (${acme}, 'kay@acme-fn.example')`;
      assert.equal((await exchange(h.app.handler, user.accessToken)).tenantId, "acme-fn");
    });

    await t.step("a personal tenant whose member was removed is not recreated", async () => {
      const user = await signUp(h.auth, `solo-${crypto.randomUUID().slice(0, 8)}@elsewhere.example`);
      const first = await exchange(h.app.handler, user.accessToken);
      assert.equal(first.status, 200);
      await sql`delete from tenancy.tenants where id = ${first.tenantId}`;
      assert.equal((await exchange(h.app.handler, user.accessToken)).code, "no_tenant");
    });
  } finally {
    await h.close();
  }
});
