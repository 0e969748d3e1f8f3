/**
 * Every test file's name is unique across tests/, whatever its layer (unit, db, function, e2e, hostile, …),
 * so that a name in a report, a log or a document points at one file and says what it checks.
 */
import assert from "node:assert/strict";

const TESTS = new URL("../", import.meta.url);

/** The paths under `dir`, relative to tests/, of every `*_test.ts`. */
async function testFiles(dir: URL, prefix = ""): Promise<string[]> {
  const found: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    if (entry.isDirectory) {
      found.push(...await testFiles(new URL(`${entry.name}/`, dir), `${prefix}${entry.name}/`));
    } else if (entry.name.endsWith("_test.ts")) {
      found.push(`${prefix}${entry.name}`);
    }
  }
  return found;
}

/** Each file name that more than one path ends in, with those paths: `name: a/name, b/name`. */
function duplicates(paths: string[]): string[] {
  const byName = Map.groupBy(paths, (path) => path.slice(path.lastIndexOf("/") + 1));
  return [...byName].filter(([, all]) => all.length > 1).map(([name, all]) =>
    `${name}: ${all.sort().join(", ")}`
  )
    .sort();
}

Deno.test("duplicates() names each file name found in more than one folder", () => {
  assert.deepEqual(duplicates(["unit/a_test.ts", "db/b_test.ts"]), []);
  assert.deepEqual(duplicates(["unit/a_test.ts", "db/a_test.ts", "db/b_test.ts"]), [
    "a_test.ts: db/a_test.ts, unit/a_test.ts",
  ]);
});

Deno.test("every *_test.ts file name under tests/ is unique across the layers", async () => {
  const files = await testFiles(TESTS);
  assert.ok(files.length > 50, `${files.length} test files found`);
  const found = duplicates(files);
  assert.deepEqual(found, [], `test file names used in more than one folder:\n${found.join("\n")}`);
});
