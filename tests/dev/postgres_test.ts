import assert from "node:assert/strict";
import postgres from "postgres";
import { startPostgres } from "../../dev/postgres.ts";

Deno.test("startPostgres() says in one line why Postgres did not start", async (t) => {
  const folder = await Deno.makeTempDir({ prefix: "exchange-token-pg-test-" });
  await Deno.chmod(folder, 0o755);
  try {
    await t.step("initdb's own error, for a data directory that is not empty", async () => {
      await Deno.mkdir(`${folder}/full`);
      await Deno.writeTextFile(`${folder}/full/notes.txt`, "not a database\n");
      const err = await startPostgres({ dataDir: `${folder}/full` }).catch((err: Error) => err);
      assert.ok(err instanceof Error);
      assert.match(
        err.message,
        /^Postgres 1[57] failed to start on port \d+: initdb: error: directory ".*" exists/,
      );
      assert.doesNotMatch(err.message, /\n/);
    });

    await t.step("the server's FATAL line, for a data directory another server holds", async () => {
      const first = await startPostgres({ dataDir: `${folder}/held` });
      try {
        const err = await startPostgres({ dataDir: `${folder}/held` }).catch((err: Error) => err);
        assert.ok(err instanceof Error);
        assert.match(
          err.message,
          /^Postgres 1[57] failed to start on port \d+: FATAL: lock file "postmaster.pid"/,
        );
        assert.doesNotMatch(err.message, /\n/);
      } finally {
        await first.stop();
      }
    });
  } finally {
    await Deno.remove(folder, { recursive: true });
  }
});

Deno.test("a data directory in a 0700 folder is kept where Postgres's OS user can reach it", async () => {
  const home = await Deno.makeTempDir({ prefix: "exchange-token-home-" });
  const dataDir = `${home}/state/postgres`;
  try {
    const first = await startPostgres({ dataDir });
    const sql = postgres(first.url, { max: 1, onnotice: () => {} });
    await sql`create table kept (id int)`;
    await sql.end();
    await first.stop();
    if (Deno.uid() === 0) {
      // Root's Postgres runs as `postgres`, who cannot enter `home`: the data is elsewhere, linked.
      assert.equal(await Deno.readLink(dataDir), first.dataDir);
      assert.match(first.dataDir, /^\/var\/lib\/exchange-token\/[0-9a-f]{16}-postgres$/);
    } else {
      assert.equal(first.dataDir, dataDir);
    }

    const second = await startPostgres({ dataDir });
    try {
      assert.equal(second.dataDir, first.dataDir);
      const again = postgres(second.url, { max: 1, onnotice: () => {} });
      assert.deepEqual([...await again`select count(*)::int as n from kept`], [{ n: 0 }]);
      await again.end();
    } finally {
      await second.stop();
    }

    // `rm -rf .dev` starts afresh: data whose link is gone is replaced, not picked up again.
    await Deno.remove(`${home}/state`, { recursive: true });
    const third = await startPostgres({ dataDir });
    try {
      const fresh = postgres(third.url, { max: 1, onnotice: () => {} });
      assert.deepEqual([...await fresh`select to_regclass('kept') as kept`], [{ kept: null }]);
      await fresh.end();
    } finally {
      await third.stop();
    }
  } finally {
    const data = await Deno.readLink(dataDir).catch(() => undefined);
    if (data) await Deno.remove(data, { recursive: true });
    await Deno.remove(home, { recursive: true });
  }
});
