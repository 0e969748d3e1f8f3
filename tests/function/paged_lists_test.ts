/**
 * The management lists page (docs/tenants.md "Pages"): `GET /tenants`, `…/members`, `…/invitations` and
 * `GET /invitations` through the real handlers and Postgres, each walked page by page and compared with the
 * whole list in its documented order; a removal between pages shifts nothing; bad `limit` and `after`
 * answer 400 `invalid_request`.
 */
import assert from "node:assert/strict";
import { createTenant, createUser } from "../_db.ts";
import {
  call,
  type ManagementHarness,
  openManagementHarness,
  provenUser,
  send,
} from "./_management_setup.ts";

type Row = Record<string, unknown>;

/** Follows `next_after` from the first page to the last, keeping each page. */
async function walk(
  app: ManagementHarness["tenants"],
  token: string,
  path: string,
  key: string,
  limit: number,
): Promise<Row[][]> {
  const pages: Row[][] = [];
  let after: string | null = null;
  do {
    const query = new URLSearchParams({ limit: String(limit), ...(after === null ? {} : { after }) });
    const { status, body } = await send(app, call(token, "GET", `${path}?${query}`));
    assert.equal(status, 200, JSON.stringify(body));
    pages.push(body[key] as Row[]);
    after = body.next_after as string | null;
    assert.ok(pages.length < 20, "the pages end");
  } while (after !== null);
  return pages;
}

Deno.test("the lists page", async (t) => {
  const h = await openManagementHarness();
  try {
    const { sql } = h.db;
    const acme = await createTenant(sql, "Acme", "acme");
    const owner = await provenUser(h.auth);
    await sql`insert into tenancy.memberships (tenant_id, user_id, role, created_at)
              values (${acme}, ${owner.userId}, 'owner', '2026-01-01T00:00:00Z')`;
    // Six more members; two joined at the same microsecond, so that user_id breaks the tie.
    const others = await Promise.all([1, 2, 3, 4, 5, 6].map(() => createUser(sql)));
    const joined = ["2026-01-02", "2026-01-03", "2026-01-03", "2026-01-04", "2026-01-05", "2026-01-06"];
    for (const [i, user] of others.entries()) {
      await sql`insert into tenancy.memberships (tenant_id, user_id, role, created_at)
                values (${acme}, ${user.id}, 'user', ${joined[i] + "T00:00:00.000001Z"})`;
    }
    const everyone = await sql`select user_id from tenancy.memberships where tenant_id = ${acme}
                                order by created_at, user_id`;

    await t.step("members page by (joined_at, user_id); next_after is null on the last page", async () => {
      const pages = await walk(h.tenants, owner.accessToken, "/tenants/acme/members", "members", 3);
      assert.deepEqual(pages.map((p) => p.length), [3, 3, 1]);
      assert.deepEqual(pages.flat().map((m) => m.user_id), everyone.map((r) => r.user_id));
      assert.deepEqual(Object.keys(pages[0][0]).sort(), ["email", "joined_at", "role", "user_id"]);
      // A full last page cannot know it is the last: one more request answers an empty page.
      assert.deepEqual(
        (await walk(h.tenants, owner.accessToken, "/tenants/acme/members", "members", 7))
          .map((p) => p.length),
        [7, 0],
      );
    });

    await t.step("without limit, a caller gets the first 50 and a cursor", async () => {
      const many = await Promise.all(Array.from({ length: 50 }, () => createUser(sql)));
      await sql`insert into tenancy.memberships ${
        sql(many.map((u) => ({ tenant_id: acme, user_id: u.id, role: "user" })))
      }`;
      const first = await send(h.tenants, call(owner.accessToken, "GET", "/tenants/acme/members"));
      assert.equal((first.body.members as Row[]).length, 50);
      assert.equal(typeof first.body.next_after, "string");
      const rest = await send(
        h.tenants,
        call(owner.accessToken, "GET", `/tenants/acme/members?after=${first.body.next_after}`),
      );
      assert.deepEqual([(rest.body.members as Row[]).length, rest.body.next_after], [7, null]);
      await sql`delete from tenancy.memberships where user_id in ${sql(many.map((u) => u.id))}`;
    });

    await t.step("a member removed between pages shifts nothing on the next", async () => {
      const first = await send(h.tenants, call(owner.accessToken, "GET", "/tenants/acme/members?limit=3"));
      const page = first.body.members as Row[];
      await sql`delete from tenancy.memberships where tenant_id = ${acme} and user_id = ${page[1]
        .user_id as string}`;
      const next = await send(
        h.tenants,
        call(owner.accessToken, "GET", `/tenants/acme/members?limit=3&after=${first.body.next_after}`),
      );
      assert.deepEqual(
        (next.body.members as Row[]).map((m) => m.user_id),
        everyone.slice(3, 6).map((r) => r.user_id),
      );
    });

    await t.step("a tenant's invitations page newest first by (created_at, id)", async () => {
      const emails = ["a", "b", "c", "d", "e"].map((x) =>
        `${x}-${crypto.randomUUID().slice(0, 6)}@example.com`
      );
      const at = ["2026-12-01", "2026-12-02", "2026-12-02", "2026-12-03", "2026-12-04"];
      for (const [i, email] of emails.entries()) {
        await sql`insert into tenancy.invitations (tenant_id, email, invited_by, created_at, expires_at)
                  values (${acme}, ${email}, ${owner.userId}, ${
          at[i] + "T00:00:00Z"
        }, now() + interval '1 day')`;
      }
      // Accepted and expired ones are not pending, on any page.
      await sql`insert into tenancy.invitations (tenant_id, email, created_at, accepted_at)
                values (${acme}, 'accepted@example.com', now(), now())`;
      await sql`insert into tenancy.invitations (tenant_id, email, created_at, expires_at)
                values (${acme}, 'expired@example.com', now(), now() - interval '1 second')`;
      const expected = await sql`
        select email from tenancy.invitations
         where tenant_id = ${acme} and accepted_at is null and expires_at > now()
         order by created_at desc, id desc`;
      const pages = await walk(h.tenants, owner.accessToken, "/tenants/acme/invitations", "invitations", 2);
      assert.deepEqual(pages.map((p) => p.length), [2, 2, 1]);
      assert.deepEqual(pages.flat().map((i) => i.email), expected.map((r) => r.email));
      assert.equal(pages[0][0].invited_by_email, owner.email);
      assert.equal("cursor" in pages[0][0], false);
    });

    await t.step("GET /tenants pages default first, then by name and uuid", async () => {
      const names = ["Zeta", "Émile", "Beta", "Beta"];
      for (const name of names) {
        const tenant = await createTenant(sql, name);
        await sql`insert into tenancy.memberships (tenant_id, user_id, role) values (${tenant}, ${owner.userId}, 'user')`;
      }
      await sql`update tenancy.memberships set is_default = true where tenant_id = ${acme} and user_id = ${owner.userId}`;
      const expected = await sql`
        select t.id from tenancy.memberships m join tenancy.tenants t on t.id = m.tenant_id
         where m.user_id = ${owner.userId} order by m.is_default desc, t.name, t.id`;
      const pages = await walk(h.tenants, owner.accessToken, "/tenants", "tenants", 2);
      assert.deepEqual(pages.map((p) => p.length), [2, 2, 1]);
      assert.deepEqual(pages.flat().map((x) => x.tenant_uuid), expected.map((r) => r.id));
      assert.equal(pages[0][0].tenant_id, "acme");
    });

    await t.step("GET /invitations pages the caller's own newest first", async () => {
      const invitee = await provenUser(h.auth);
      const tenants = await Promise.all(["One", "Two", "Three"].map((name) => createTenant(sql, name)));
      for (const [i, tenant] of tenants.entries()) {
        await sql`insert into tenancy.invitations (tenant_id, email, created_at)
                  values (${tenant}, ${invitee.email}, now() - ${`${i} hours`}::interval)`;
      }
      const pages = await walk(h.invitations, invitee.accessToken, "/invitations", "invitations", 2);
      assert.deepEqual(pages.map((p) => p.length), [2, 1]);
      assert.deepEqual(pages.flat().map((i) => i.tenant_name), ["One", "Two", "Three"]);
    });

    await t.step("a bad limit or after answers 400 invalid_request, saying which", async () => {
      const bad = async (path: string, message: RegExp) => {
        const { status, body } = await send(h.tenants, call(owner.accessToken, "GET", path));
        assert.deepEqual([status, body.error], [400, "invalid_request"], path);
        assert.match(String(body.message), message, path);
      };
      for (const limit of ["0", "101", "-1", "1.5", "ten", ""]) {
        await bad(`/tenants/acme/members?limit=${limit}`, /^limit must be a whole number from 1 to 100$/);
      }
      await bad("/tenants/acme/invitations?after=%00", /^after must be the next_after of a previous page$/);
      await bad("/tenants?after=", /^after must be the next_after of a previous page$/);
      await bad(`/tenants/acme/members?after=${"1".repeat(2001)}`, /^after must be the next_after/);
      // Well-formed characters, but no cursor this list made: the SQL function refuses it.
      await bad("/tenants/acme/members?after=12.34", /^after is not a cursor of this list$/i);
      await bad(`/tenants?after=1.${acme}.ff`, /^after is not a cursor of this list$/i);
      await bad(`/tenants?after=1.${acme}.00`, /^after is not a cursor of this list$/i);
      const mine = await send(h.invitations, call(owner.accessToken, "GET", "/invitations?limit=1000"));
      assert.deepEqual([mine.status, mine.body.error], [400, "invalid_request"]);
    });
  } finally {
    await h.close();
  }
});
