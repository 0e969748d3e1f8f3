/**
 * The functions keep to what the Edge Runtime gives a user worker: every first-party module of each
 * function's graph (`deno info` with the function's own `deno.json`; npm packages are not ours to change)
 * is read, and these are refused:
 *
 * - subprocesses: `Deno.Command`, `Deno.run`, `Deno.kill`, and importing `node:child_process`/`node:cluster`;
 * - FFI: `Deno.dlopen`;
 * - listening sockets other than `Deno.serve`: `Deno.listen`, `Deno.listenTls`, `Deno.listenDatagram`, and
 *   importing `node:net`, `node:dgram`, `node:tls`, `node:http`, `node:https`, `node:http2`;
 * - file writes outside `/tmp`: `Deno.writeFile`, `writeTextFile`, `mkdir`, `remove`, `create`, `truncate`,
 *   `chmod`, `chown`, `utime`, `rename`, `copyFile`, `link`, `symlink` (and their `Sync` forms) unless
 *   every path they are given is a string literal under `/tmp/`; `Deno.makeTempDir`/`makeTempFile` given a
 *   `dir`; `Deno.open` with `write`, `append`, `create`, `createNew` or `truncate` not literally `false`
 *   outside `/tmp/`; and importing `node:fs` or `node:fs/promises` at all;
 * - a writable environment: `Deno.env.set`, `Deno.env.delete`.
 *
 * How strict, and why: stricter than the runtime wherever a source check cannot know. A path built at run
 * time (a variable, a template) might leave `/tmp`, so only a literal path counts as under it; `node:` modules
 * that can both read and write, or both connect and listen, are refused whole, since the functions need
 * none of them (they speak HTTP through `fetch` and `Deno.serve`; postgres.js's own `node:net` is the npm
 * package's). `Deno` used other than as `Deno.<name>` (`const { run } = Deno`, `Deno[name]`,
 * `globalThis.Deno`) and an `import()` of a computed specifier are refused too, as the check could not
 * follow them. The runtime itself refuses these with a permission error at run time; this finds them before
 * deploy, in our code only.
 */
import assert from "node:assert/strict";
import { functionGraph, ROOT } from "../_import_graph.ts";
import { functionNames } from "../../tools/function_locks.ts";

const FUNCTIONS = new URL("supabase/functions/", ROOT).href;

const withSync = (names: string[]) => new Set(names.flatMap((name) => [name, `${name}Sync`]));
const REFUSED_CALLS: ReadonlyMap<string, string> = new Map([
  ["Command", "no subprocesses in a user worker"],
  ["run", "no subprocesses in a user worker"],
  ["kill", "no subprocesses in a user worker"],
  ["dlopen", "no FFI in a user worker"],
  ["listen", "no listening socket but Deno.serve in a user worker"],
  ["listenTls", "no listening socket but Deno.serve in a user worker"],
  ["listenDatagram", "no listening socket but Deno.serve in a user worker"],
]);
const ONE_PATH_WRITES = withSync([
  "writeFile",
  "writeTextFile",
  "mkdir",
  "remove",
  "create",
  "truncate",
  "chmod",
  "chown",
  "utime",
]);
const TWO_PATH_WRITES = withSync(["rename", "copyFile", "link", "symlink"]);
const TEMP_WRITES = withSync(["makeTempDir", "makeTempFile"]);
const OPENS = withSync(["open"]);
const OPEN_WRITE_FLAGS = new Set(["write", "append", "create", "createNew", "truncate"]);
const REFUSED_NODE_MODULES: ReadonlyMap<string, string> = new Map([
  ["node:child_process", "no subprocesses in a user worker"],
  ["node:cluster", "no subprocesses in a user worker"],
  ["node:fs", "file writes only under /tmp (node:fs is refused whole)"],
  ["node:fs/promises", "file writes only under /tmp (node:fs is refused whole)"],
  ["node:net", "no listening socket but Deno.serve (node:net is refused whole)"],
  ["node:dgram", "no listening socket but Deno.serve"],
  ["node:tls", "no listening socket but Deno.serve (node:tls is refused whole)"],
  ["node:http", "no listening socket but Deno.serve (node:http is refused whole)"],
  ["node:https", "no listening socket but Deno.serve (node:https is refused whole)"],
  ["node:http2", "no listening socket but Deno.serve (node:http2 is refused whole)"],
]);

type Node = Deno.lint.Node;

/** Whether two AST nodes are the same one (the linter hands out fresh objects, so by type and range). */
function same(a: Node | null | undefined, b: Node): boolean {
  return !!a && a.type === b.type && a.range[0] === b.range[0] && a.range[1] === b.range[1];
}

/** The name of a non-computed member access, or undefined. */
function memberName(node: Deno.lint.MemberExpression): string | undefined {
  return !node.computed && node.property.type === "Identifier" ? node.property.name : undefined;
}

/** Whether `node` is a string literal naming `/tmp` or a path under it, with no `..` segment. */
function isTmpLiteral(node: Node | undefined): boolean {
  if (node?.type !== "Literal" || typeof node.value !== "string") return false;
  return /^\/tmp(\/|$)/.test(node.value) && !/(^|\/)\.\.(\/|$)/.test(node.value);
}

/** Whether an options argument of `Deno.open` may ask to write: anything but literal `false` flags. */
function mayWrite(options: Node | undefined): boolean {
  if (options === undefined) return false;
  if (options.type !== "ObjectExpression") return true;
  return options.properties.some((property) => {
    if (property.type !== "Property" || property.computed) return true;
    const key = property.key.type === "Identifier"
      ? property.key.name
      : property.key.type === "Literal"
      ? String(property.key.value)
      : undefined;
    if (key === undefined) return true;
    return OPEN_WRITE_FLAGS.has(key) &&
      !(property.value.type === "Literal" && property.value.value === false);
  });
}

/** Whether an options argument of `Deno.makeTempDir`/`makeTempFile` may name a `dir` outside `/tmp`. */
function mayLeaveTmp(options: Node | undefined): boolean {
  if (options === undefined) return false;
  if (options.type !== "ObjectExpression") return true;
  return options.properties.some((property) => {
    if (property.type !== "Property" || property.computed) return true;
    const key = property.key.type === "Identifier" ? property.key.name : undefined;
    return key === "dir" && !isTmpLiteral(property.value);
  });
}

/** Why a call of `Deno.<name>(...args)` writes where a user worker may not, or undefined when it does not. */
function refusedWrite(name: string, args: Node[]): string | undefined {
  const outside = "file writes only under /tmp, given as a literal path";
  if (ONE_PATH_WRITES.has(name)) return isTmpLiteral(args[0]) ? undefined : outside;
  if (TWO_PATH_WRITES.has(name)) return isTmpLiteral(args[0]) && isTmpLiteral(args[1]) ? undefined : outside;
  if (TEMP_WRITES.has(name)) return mayLeaveTmp(args[0]) ? outside : undefined;
  if (OPENS.has(name)) return isTmpLiteral(args[0]) || !mayWrite(args[1]) ? undefined : outside;
  return undefined;
}

const WORKER_RULES: Deno.lint.Plugin = {
  name: "edge-worker",
  rules: {
    api: {
      create(context) {
        const refuse = (node: Node, message: string) => context.report({ node, message });
        return {
          Identifier(node) {
            if (node.name !== "Deno") return;
            const parent = node.parent;
            // Type positions (`Deno.ServeHandler`) and plain keys (`{ Deno: … }`) use no API.
            if (parent.type === "TSQualifiedName") return;
            if (parent.type === "Property" && same(parent.key, node) && !parent.shorthand) return;
            const name = parent.type === "MemberExpression" && same(parent.object, node)
              ? memberName(parent)
              : undefined;
            if (name === undefined || parent.type !== "MemberExpression") {
              return refuse(node, "Deno used other than as Deno.<name>: the check cannot follow it");
            }
            const refused = REFUSED_CALLS.get(name);
            if (refused) return refuse(parent, `Deno.${name}: ${refused}`);
            const above = parent.parent;
            if (name === "env") {
              const method = above.type === "MemberExpression" && same(above.object, parent)
                ? memberName(above)
                : undefined;
              if (method === undefined) return refuse(parent, "Deno.env used other than as Deno.env.<name>");
              if (method === "set" || method === "delete") {
                return refuse(above, `Deno.env.${method}: the environment is read-only in a user worker`);
              }
              return;
            }
            const writes = ONE_PATH_WRITES.has(name) || TWO_PATH_WRITES.has(name) || TEMP_WRITES.has(name) ||
              OPENS.has(name);
            if (!writes) return;
            if (above.type !== "CallExpression" || !same(above.callee, parent)) {
              return refuse(parent, `Deno.${name} used other than called: the check cannot follow it`);
            }
            const why = refusedWrite(name, above.arguments);
            if (why) refuse(above, `Deno.${name}: ${why}`);
          },
          ImportExpression(node) {
            if (node.source.type !== "Literal") {
              refuse(node, "import() of a computed specifier: the check cannot follow it");
            }
          },
        };
      },
    },
  },
};

/**
 * What a first-party module does that a user worker may not, by line.
 *
 * @param fileName The module's name (its extension picks the parser).
 * @param source Its source.
 * @param imports The specifiers its imports resolve to.
 * @returns One line per problem, `<line>: <what>: <rule>`.
 */
function workerApiProblems(fileName: string, source: string, imports: string[] = []): string[] {
  const lineOf = (offset: number) => source.slice(0, offset).split("\n").length;
  const problems = Deno.lint.runPlugin(WORKER_RULES, fileName, source).map((d) =>
    `${lineOf(d.range[0])}: ${d.message}`
  );
  for (const specifier of imports) {
    const refused = REFUSED_NODE_MODULES.get(specifier);
    if (refused) problems.push(`imports ${specifier}: ${refused}`);
  }
  return problems;
}

Deno.test("workerApiProblems() refuses each API a user worker lacks, and each way around the check", () => {
  const source = [
    /* 1 */ `new Deno.Command("ls").output();`,
    /* 2 */ `Deno.run({ cmd: ["ls"] });`,
    /* 3 */ `Deno.dlopen("libc.so.6", {});`,
    /* 4 */ `Deno.listen({ port: 8080 });`,
    /* 5 */ `Deno.listenDatagram({ port: 53, transport: "udp" });`,
    /* 6 */ `await Deno.writeTextFile("/etc/passwd", "x");`,
    /* 7 */ `await Deno.writeFile(path, bytes);`,
    /* 8 */ `await Deno.writeTextFile("/tmp/../etc/passwd", "x");`,
    /* 9 */ `await Deno.mkdir("/var/data", { recursive: true });`,
    /* 10 */ `Deno.removeSync("/home");`,
    /* 11 */ `await Deno.rename("/tmp/a", "/srv/a");`,
    /* 12 */ `await Deno.open("/srv/log", { append: true });`,
    /* 13 */ `await Deno.open("/srv/log", options);`,
    /* 14 */ `await Deno.makeTempFile({ dir: "/srv" });`,
    /* 15 */ `Deno.env.set("X", "1");`,
    /* 16 */ `Deno.env.delete("X");`,
    /* 17 */ `const { Command } = Deno;`,
    /* 18 */ `Deno["run"]({ cmd: ["ls"] });`,
    /* 19 */ `globalThis.Deno.run({ cmd: ["ls"] });`,
    /* 20 */ `const write = Deno.writeTextFile;`,
    /* 21 */ `const env = Deno.env;`,
    /* 22 */ `await import(moduleName);`,
  ].join("\n");
  assert.deepEqual(
    workerApiProblems("bad.ts", source, ["node:child_process", "node:fs", "npm:jose@6.2.18"]),
    [
      "1: Deno.Command: no subprocesses in a user worker",
      "2: Deno.run: no subprocesses in a user worker",
      "3: Deno.dlopen: no FFI in a user worker",
      "4: Deno.listen: no listening socket but Deno.serve in a user worker",
      "5: Deno.listenDatagram: no listening socket but Deno.serve in a user worker",
      "6: Deno.writeTextFile: file writes only under /tmp, given as a literal path",
      "7: Deno.writeFile: file writes only under /tmp, given as a literal path",
      "8: Deno.writeTextFile: file writes only under /tmp, given as a literal path",
      "9: Deno.mkdir: file writes only under /tmp, given as a literal path",
      "10: Deno.removeSync: file writes only under /tmp, given as a literal path",
      "11: Deno.rename: file writes only under /tmp, given as a literal path",
      "12: Deno.open: file writes only under /tmp, given as a literal path",
      "13: Deno.open: file writes only under /tmp, given as a literal path",
      "14: Deno.makeTempFile: file writes only under /tmp, given as a literal path",
      "15: Deno.env.set: the environment is read-only in a user worker",
      "16: Deno.env.delete: the environment is read-only in a user worker",
      "17: Deno used other than as Deno.<name>: the check cannot follow it",
      "18: Deno used other than as Deno.<name>: the check cannot follow it",
      "19: Deno used other than as Deno.<name>: the check cannot follow it",
      "20: Deno.writeTextFile used other than called: the check cannot follow it",
      "21: Deno.env used other than as Deno.env.<name>",
      "22: import() of a computed specifier: the check cannot follow it",
      "imports node:child_process: no subprocesses in a user worker",
      "imports node:fs: file writes only under /tmp (node:fs is refused whole)",
    ],
  );
});

Deno.test("workerApiProblems() lets through what a user worker may do", () => {
  const source = [
    `const handler: Deno.ServeHandler = () => new Response("ok");`,
    `Deno.serve(handler);`,
    `const config = loadConfig(Deno.env.toObject(), Deno.env.get("X"));`,
    `await Deno.writeTextFile("/tmp/cache.json", "{}");`,
    `await Deno.mkdir("/tmp/work", { recursive: true });`,
    `await Deno.rename("/tmp/a", "/tmp/b");`,
    `const file = await Deno.makeTempFile();`,
    `await Deno.open("/etc/hosts");`,
    `await Deno.open("/etc/hosts", { read: true, write: false });`,
    `await Deno.open("/tmp/log", { append: true });`,
    `const table = { Deno: 1 };`,
    `await import("./routes.ts");`,
  ].join("\n");
  assert.deepEqual(workerApiProblems("good.ts", source, ["node:crypto", "npm:postgres@3.4.9"]), []);
});

/** Each first-party module of `name`'s graph, with the specifiers its imports resolve to. */
async function firstPartyModules(name: string): Promise<Array<{ specifier: string; imports: string[] }>> {
  return (await functionGraph(name)).filter((m) => m.specifier.startsWith(FUNCTIONS)).map((m) => ({
    specifier: m.specifier,
    imports: (m.dependencies ?? []).flatMap((d) => d.code?.specifier ?? []),
  }));
}

for (const name of await functionNames()) {
  Deno.test(`the ${name} function's own modules use no API a user worker lacks`, async () => {
    const modules = await firstPartyModules(name);
    assert.ok(modules.length > 10, `${name}: ${modules.length} first-party modules`);
    const problems: string[] = [];
    for (const { specifier, imports } of modules) {
      const source = await Deno.readTextFile(new URL(specifier));
      const path = specifier.slice(FUNCTIONS.length);
      problems.push(...workerApiProblems(path, source, imports).map((problem) => `${path}:${problem}`));
    }
    assert.deepEqual(problems, []);
  });
}
