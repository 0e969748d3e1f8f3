/**
 * The transaction pooler (`dev/pooler.ts`): PgBouncer as Supavisor stands in for it, in front of a migrated
 * database with hosted Supabase's roles.
 */
import assert from "node:assert/strict";
import postgres from "postgres";
import { openTestDatabase } from "../_db.ts";
import { parsePoolerMode, startPooler } from "../../dev/pooler.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

/** Sends Postgres's SSLRequest and returns the one-byte answer: `S` (TLS offered) or `N`. */
async function sslAnswer(port: number): Promise<string> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await conn.write(new Uint8Array([0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f]));
    const answer = new Uint8Array(1);
    await conn.read(answer);
    return String.fromCharCode(answer[0]);
  } finally {
    conn.close();
  }
}

async function currentUser(url: string): Promise<string> {
  const sql = postgres(url, { max: 1, prepare: false, onnotice: () => {} });
  try {
    const [row] = await sql`select current_user as name`;
    return row.name;
  } finally {
    await sql.end();
  }
}

Deno.test("startPooler() runs PgBouncer in transaction mode with TLS, as Supavisor on port 6543", async (t) => {
  const db = await openTestDatabase();
  const pooler = await startPooler({ serverUrl: db.serverUrl, poolSize: 1 });
  try {
    await t.step("it offers TLS, which sslmode=require uses, and accepts plain TCP too", async () => {
      assert.equal(await sslAnswer(pooler.port), "S");
      const url = pooler.urlFor(db.url);
      assert.equal(new URL(url).searchParams.get("sslmode"), "require");
      assert.equal(await currentUser(url), "postgres");
      assert.equal(await currentUser(url.replace("sslmode=require", "sslmode=disable")), "postgres");
    });

    await t.step("it checks the password against Postgres's SCRAM secret", async () => {
      const wrong = new URL(pooler.urlFor(db.url));
      wrong.password = "not-the-password";
      // PgBouncer's own refusal (08P01, not Postgres's 28P01): it checked the proof against the secret.
      await assert.rejects(currentUser(wrong.href), (err: Error & { code?: string }) => {
        return err.code === "08P01" && err.message === "SASL authentication failed";
      });
    });

    await t.step("clients take turns on one server session, which keeps what each leaves", async () => {
      const [a, b] = [0, 1].map(() => postgres(pooler.urlFor(db.url), { max: 1, prepare: false }));
      try {
        const [left] = await a`select pg_backend_pid() as pid, set_config('exchange.left', 'by a', false)`;
        const [seen] = await b`select pg_backend_pid() as pid, current_setting('exchange.left') as value`;
        assert.deepEqual([seen.pid, seen.value], [left.pid, "by a"]);
      } finally {
        await Promise.all([a.end(), b.end()]);
      }
    });

    await t.step(
      "it runs from a 0700 folder outside the checkout, as the postgres OS user when root",
      async () => {
        const folder = await Deno.stat(pooler.dir);
        assert.equal(folder.mode! & 0o777, 0o700);
        assert.ok(!(await Deno.realPath(pooler.dir)).startsWith(ROOT), pooler.dir);
        const status = await Deno.readTextFile(`/proc/${pooler.pid}/status`);
        const uid = Number(status.match(/^Uid:\s+(\d+)/m)![1]);
        assert.equal(uid, folder.uid);
        if (Deno.uid() === 0) assert.notEqual(uid, 0, "PgBouncer refuses to run as root");
        for (const file of ["pgbouncer.ini", "userlist.txt", "server.crt", "server.key"]) {
          assert.equal((await Deno.stat(`${pooler.dir}/${file}`)).mode! & 0o777, 0o600, file);
        }
        assert.match(await Deno.readTextFile(`${pooler.dir}/userlist.txt`), /^"postgres" "SCRAM-SHA-256\$/);
      },
    );
  } finally {
    await pooler.stop();
    await db.close();
  }
  await assert.rejects(Deno.stat(pooler.dir), Deno.errors.NotFound);
});

Deno.test("parsePoolerMode() takes transaction or nothing", () => {
  assert.equal(parsePoolerMode(undefined), undefined);
  assert.equal(parsePoolerMode(""), undefined);
  assert.equal(parsePoolerMode("transaction"), "transaction");
  assert.throws(() => parsePoolerMode("session"), /DB_POOLER must be transaction \(or unset\), not session/);
});
