/**
 * `deno task dev --database NAME`: the names `parseDatabaseName()` lets through to `create database`, which
 * takes it as an identifier.
 */
import assert from "node:assert/strict";
import { parseDatabaseName } from "../../dev/database.ts";

Deno.test("parseDatabaseName() accepts a plain lower-case identifier", () => {
  for (const name of ["my_app", "_a", "app2", "a".repeat(63)]) assert.equal(parseDatabaseName(name), name);
});

Deno.test("parseDatabaseName() refuses what is not a plain identifier, and the databases Postgres keeps", () => {
  for (const name of ["", "My_App", "2app", "my-app", 'a"; drop database postgres; --', "a".repeat(64)]) {
    assert.throws(() => parseDatabaseName(name), /lower-case letters, digits and _/, name);
  }
  for (const name of ["postgres", "template0", "template1"]) {
    assert.throws(() => parseDatabaseName(name), /not postgres, template0 or template1/, name);
  }
});
