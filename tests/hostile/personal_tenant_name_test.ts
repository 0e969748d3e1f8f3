/**
 * Hostile replay through the local stack (supabase-js, the gateway, the mailbox): a personal tenant's name
 * is shown to the people its owner invites ("… invites you"), so it must not be the owner's to forge at sign-up.
 * Mallory signs up with `user_metadata` claiming to be "Acme Support" (supabase-js `signUp({ options: { data
 * } })`), writes it again after confirming (`updateUser({ data })`), then invites Victor. Her tenant is named
 * from the address she proved, and Victor's invitation says so; the metadata names nothing. Nor does an address
 * she asked to change to and has not confirmed.
 *
 * @module
 */
import assert from "node:assert/strict";
import { createClient, type SupabaseClient } from "@supabase/supabase-js";
import { createBackendSession, createTenantClient } from "../../client/mod.ts";
import { type LocalStack, startStack } from "../../dev/stack.ts";
import { followLink, mailsTo } from "../_mail.ts";
import { PASSWORD } from "../_fixtures.ts";

const MALLORY = "mallory.m@evil.test";
const VICTOR = "victor@target.test";
const FORGED = { full_name: "Acme Support", name: "Acme Support", tenant_name: "Acme Support" };

/** Signs up with `data` as user_metadata, confirms through the mailbox, and signs in. */
async function confirmedUser(stack: LocalStack, email: string, data: Record<string, string>) {
  const supabase: SupabaseClient = createClient(stack.apiUrl, stack.publishableKey, {
    auth: { persistSession: false, autoRefreshToken: false },
  });
  const { error } = await supabase.auth.signUp({ email, password: PASSWORD, options: { data } });
  assert.equal(error, null);
  const [mail] = await mailsTo(stack.mailboxUrl, email);
  assert.equal((await followLink(mail.link)).status, 303);
  const signedIn = await supabase.auth.signInWithPassword({ email, password: PASSWORD });
  assert.equal(signedIn.error, null);
  return supabase;
}

Deno.test("a personal tenant's name comes from the proven address, never from user_metadata", async () => {
  const stack = await startStack({ autoConfirm: false });
  try {
    const mallory = await confirmedUser(stack, MALLORY, FORGED);
    assert.equal((await mallory.auth.updateUser({ data: FORGED })).error, null);
    const backend = createBackendSession(mallory, { autoRefresh: false });
    try {
      await backend.getToken(); // her first exchange makes her personal tenant
      const tenants = createTenantClient(mallory, { session: backend });
      const [mine] = (await tenants.listTenants()).items;
      assert.deepEqual([mine.name, mine.role], ["Mallory M's workspace", "owner"]);
      await tenants.invite(mine.tenantId, VICTOR, "admin");

      // Victor follows the invite mail's link, which signs him in.
      const [mail] = await mailsTo(stack.mailboxUrl, VICTOR);
      const { fragment } = await followLink(mail.link);
      const victor = createClient(stack.apiUrl, stack.publishableKey, {
        auth: { persistSession: false, autoRefreshToken: false },
      });
      const session = await victor.auth.setSession({
        access_token: fragment.access_token,
        refresh_token: fragment.refresh_token,
      });
      assert.equal(session.error, null);
      const [invitation] = (await createTenantClient(victor).pendingInvitations()).items;
      assert.deepEqual([invitation.tenantName, invitation.invitedByEmail], [
        "Mallory M's workspace",
        MALLORY,
      ]);
      assert.ok(!JSON.stringify(invitation).includes("Acme"), "nothing of the metadata reaches the invitee");
      await victor.auth.signOut({ scope: "local" });
    } finally {
      backend.dispose();
      await mallory.auth.signOut({ scope: "local" });
    }
  } finally {
    await stack.stop();
  }
});

Deno.test("an email change in progress names nothing: the tenant is named from the proven address", async () => {
  const stack = await startStack({ autoConfirm: false });
  try {
    const mallory = await confirmedUser(stack, MALLORY, {});
    // She asks for acme.support@evil.test and exchanges before confirming it (no mail is followed).
    assert.equal((await mallory.auth.updateUser({ email: "acme.support@evil.test" })).error, null);
    const backend = createBackendSession(mallory, { autoRefresh: false });
    try {
      await backend.getToken(); // her first exchange makes her personal tenant
      const [mine] = (await createTenantClient(mallory, { session: backend }).listTenants()).items;
      assert.deepEqual([mine.name, mine.role], ["Mallory M's workspace", "owner"]);
    } finally {
      backend.dispose();
      await mallory.auth.signOut({ scope: "local" });
    }
  } finally {
    await stack.stop();
  }
});
