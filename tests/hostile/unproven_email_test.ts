/**
 * Hostile replay of issue 12's finding 1, "an unproven address gets a tenant", as written and from outside:
 * supabase-js and plain HTTP through the local stack's gateway, the operator's SQL as `postgres`, the
 * admin API with the service_role key, mail read from the stack's mailbox.
 *
 * With "Confirm email" off (`AUTO_CONFIRM=true`), an invitation to `ceo@acme.com` as `admin` used to go
 * to whoever signed up first as `CEO@acme.com`, and a domain claim admitted anyone typing an address at
 * the domain; an admin email change and an anonymous user's added address were confirmed without a mail.
 * Now none of them gets Acme, and the backend token's `email` is null. With confirmations on, the owners
 * of those addresses still join as before.
 *
 * @module
 */
import assert from "node:assert/strict";
import { createClient, type SupabaseClient } from "@supabase/supabase-js";
import postgres from "postgres";
import { type LocalStack, startStack } from "../../dev/stack.ts";
import { signUpByMail } from "../_mail.ts";
import { PASSWORD } from "../_fixtures.ts";

function client(stack: LocalStack): SupabaseClient {
  return createClient(stack.apiUrl, stack.publishableKey, {
    auth: { persistSession: false, autoRefreshToken: false },
  });
}

/** The operator's setup, as the README's SQL does it: Acme, an admin invitation, a domain claim. */
async function setUpAcme(stack: LocalStack): Promise<postgres.Sql> {
  const sql = postgres(stack.dbUrl, { max: 1, onnotice: () => {} });
  await sql`insert into tenancy.tenants (name, external_id) values ('Acme', 'acme')`;
  await sql`insert into tenancy.invitations (tenant_id, email, role)
            select id, 'ceo@acme.com', 'admin' from tenancy.tenants where external_id = 'acme'`;
  await sql`insert into tenancy.domain_claims (domain, tenant_id, role)
            select 'acme.com', id, 'user' from tenancy.tenants where external_id = 'acme'`;
  return sql;
}

/** The exchange's answer to a signed-in client. */
async function exchange(supabase: SupabaseClient) {
  const { data, error } = await supabase.functions.invoke("exchange-token");
  assert.equal(error, null);
  return data as { tenant_id: string; role: string; email: string | null };
}

/** The function's `email_trust` lines among the stack's output. */
function trustWarnings(lines: string[]): Array<Record<string, unknown>> {
  return lines.flatMap((line) => {
    const json = /^\[exchange-token\] (\{.*\})$/.exec(line)?.[1];
    const entry = json ? JSON.parse(json) : undefined;
    return entry?.msg === "email_trust" ? [entry] : [];
  });
}

Deno.test("finding 1 replayed with confirmations off: no unproven address gets a tenant", async (t) => {
  const lines: string[] = [];
  const stack = await startStack({
    autoConfirm: true,
    authConfig: { enableAnonymousSignIns: true },
    log: (line) => lines.push(line),
  });
  const sql = await setUpAcme(stack);
  try {
    await t.step("the stack's banner says invitation and domain provisioning are off", () => {
      assert.ok(
        lines.some((l) => /autoconfirms.*invitation and domain provisioning are off/.test(l)),
        lines.join("\n"),
      );
    });

    await t.step("whoever signs up first as CEO@acme.com does not take the admin invitation", async () => {
      const attacker = client(stack);
      const { data, error } = await attacker.auth.signUp({ email: "CEO@acme.com", password: PASSWORD });
      assert.equal(error, null);
      assert.ok(data.session, "autoconfirm: a session at once, no mail");
      const got = await exchange(attacker);
      assert.notEqual(got.tenant_id, "acme");
      assert.notEqual(got.role, "admin");
      assert.equal(got.email, null);
      const [invitation] =
        await sql`select accepted_at from tenancy.invitations where email = 'ceo@acme.com'`;
      assert.equal(invitation.accepted_at, null, "the invitation still waits for its owner");
      const [member] = await sql`select count(*)::int as n from tenancy.memberships m
                                   join tenancy.tenants t on t.id = m.tenant_id where t.external_id = 'acme'`;
      assert.equal(member.n, 0);
    });

    await t.step("a domain claim does not admit an address someone typed", async () => {
      const typist = client(stack);
      await typist.auth.signUp({ email: "anyone@acme.com", password: PASSWORD });
      const got = await exchange(typist);
      assert.notEqual(got.tenant_id, "acme");
      assert.equal(got.email, null);
    });

    await t.step("an admin email change to an @acme.com address gives no tenant", async () => {
      const user = client(stack);
      const { data } = await user.auth.signUp({ email: "moved@elsewhere.test", password: PASSWORD });
      const res = await fetch(`${stack.apiUrl}/auth/v1/admin/users/${data.user!.id}`, {
        method: "PUT",
        headers: {
          apikey: stack.serviceRoleKey,
          authorization: `Bearer ${stack.serviceRoleKey}`,
          "content-type": "application/json",
        },
        body: JSON.stringify({ email: "moved@acme.com" }),
      });
      assert.equal(res.status, 200);
      const changed = await res.json();
      assert.equal(changed.email, "moved@acme.com");
      assert.ok(changed.email_confirmed_at, "GoTrue keeps email_confirmed_at through the change");
      await user.auth.refreshSession();
      const got = await exchange(user);
      assert.notEqual(got.tenant_id, "acme");
      assert.equal(got.email, null);
    });

    await t.step(
      "an anonymous user who adds an @acme.com address gets no tenant",
      async () => {
        const anon = client(stack);
        const { error } = await anon.auth.signInAnonymously();
        assert.equal(error, null);
        const added = await anon.auth.updateUser({ email: "cfo@acme.com" });
        assert.equal(added.error, null);
        assert.ok(added.data.user?.email_confirmed_at, "confirmed at once, with no mail");
        assert.equal(added.data.user?.is_anonymous, false);
        await anon.auth.refreshSession();
        const got = await exchange(anon);
        assert.notEqual(got.tenant_id, "acme");
        assert.equal(got.email, null);
      },
    );

    await t.step("the function said so once, not once per exchange", () => {
      assert.deepEqual(trustWarnings(lines).map((w) => w.reason), ["mailer_autoconfirm"]);
    });
  } finally {
    await sql.end();
    await stack.stop();
  }
});

Deno.test("finding 1 with confirmations on: the owners of the addresses still join", async (t) => {
  const stack = await startStack();
  const sql = await setUpAcme(stack);
  const mailed = { apiUrl: stack.apiUrl, apiKey: stack.publishableKey, mailboxUrl: stack.mailboxUrl };
  try {
    await t.step(
      "a sign-up as CEO@acme.com waits for the mail, and its owner takes the invitation",
      async () => {
        const early = await client(stack).auth.signInWithPassword({
          email: "ceo@acme.com",
          password: PASSWORD,
        });
        assert.equal(early.error?.code, "invalid_credentials");
        await signUpByMail(mailed, "CEO@acme.com", PASSWORD);
        const owner = client(stack);
        await owner.auth.signInWithPassword({ email: "ceo@acme.com", password: PASSWORD });
        const got = await exchange(owner);
        assert.deepEqual([got.tenant_id, got.role, got.email], ["acme", "admin", "ceo@acme.com"]);
      },
    );

    await t.step("a confirmed @acme.com address joins by the domain claim", async () => {
      await signUpByMail(mailed, "dev@acme.com", PASSWORD);
      const dev = client(stack);
      await dev.auth.signInWithPassword({ email: "dev@acme.com", password: PASSWORD });
      const got = await exchange(dev);
      assert.deepEqual([got.tenant_id, got.role, got.email], ["acme", "user", "dev@acme.com"]);
    });

    await t.step("an address a sign-up claims but nobody confirmed cannot even sign in", async () => {
      const squatter = client(stack);
      const { data } = await squatter.auth.signUp({ email: "cto@acme.com", password: PASSWORD });
      assert.equal(data.session, null);
      const refused = await squatter.auth.signInWithPassword({ email: "cto@acme.com", password: PASSWORD });
      assert.equal(refused.error?.code, "email_not_confirmed");
    });
  } finally {
    await sql.end();
    await stack.stop();
  }
});
