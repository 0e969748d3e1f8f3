/**
 * tests/_doc_shell.ts's rules on literal Markdown: which blocks are shell blocks, their kind and line, and
 * each rule a block can break, so that the docs runner's verdicts are themselves checked.
 */
import assert from "node:assert/strict";
import { bareDeno, inlineCommandProblems, readingOrder, shellBlocks } from "../_doc_shell.ts";

const F = "`".repeat(3);

Deno.test("shellBlocks() finds sh, bash and indented blocks with their lines and kinds, and skips others", () => {
  const markdown = [
    "# Title", //                                        1
    `${F}sh`, //                                          2
    "echo run", //                                        3
    F, //                                                 4
    `${F}ts`, //                                          5
    "const x = 1;", //                                    6
    F, //                                                 7
    `  ${F}bash background`, //                           8
    "  npx -y deno@2.9.6 task dev", //                    9
    `  ${F}`, //                                         10
    `${F}sh illustrative`, //                            11
    "# Illustrative: needs a hosted project", //         12
    "npx -y deno@2.9.6 task supabase login", //          13
    F, //                                                14
  ].join("\n");
  const { blocks, problems } = shellBlocks(markdown, "a.md");
  assert.deepEqual(problems, []);
  assert.deepEqual(blocks.map((b) => [b.line, b.kind, b.body.split("\n")[0]]), [
    [2, "run", "echo run"],
    [8, "background", "npx -y deno@2.9.6 task dev"],
    [11, "illustrative", "# Illustrative: needs a hosted project"],
  ]);
});

Deno.test("shellBlocks() reports an unknown attribute, an illustrative block without its reason, and bare deno", () => {
  const markdown = [
    `${F}sh illustative`,
    "echo typo",
    F,
    `${F}sh illustrative`,
    "npx -y deno@2.9.6 task supabase login",
    F,
    `${F}sh`,
    "# Illustrative: but not fenced so",
    F,
    `${F}sh`,
    "source .dev/stack.env",
    "BACKEND_JWT_ALGORITHM=ES256 deno task dev",
    F,
  ].join("\n");
  assert.deepEqual(shellBlocks(markdown, "b.md").problems, [
    'b.md:1: unknown attribute "illustative" (known: background,illustrative)',
    'b.md:4: an illustrative block opens with "# Illustrative: <why it cannot run here>"',
    "b.md:7: a block that says it is illustrative is fenced as such (```sh illustrative)",
    "b.md:12: bare deno: say npx -y deno@2.9.6 …",
  ]);
});

Deno.test("bareDeno() tells a bare deno command from the npx prefix and from prose in comments", () => {
  assert.deepEqual(
    [
      "deno task dev",
      "cd x && deno fmt",
      "X=$(deno eval 1)",
      "npx -y deno@2.9.6 task dev",
      "DENO_TLS_CA_STORE=system npx -y deno@2.1.4 cache x.ts",
      "echo ok   # then deno task dev",
      "denoify",
    ].map(bareDeno),
    [true, true, true, false, false, false, false],
  );
});

Deno.test("inlineCommandProblems() refuses a task with arguments or settings, and the supabase task", () => {
  const markdown = [
    "The stack `deno task dev` starts; `deno task test:edge-deno` too.", //        1
    "Run `AUTO_CONFIRM=true deno task dev` or `deno task backend-keys", //           2
    "new FILE`, or `npx -y deno@2.9.6 task backend-keys add FILE`.", //             3
    "Then `deno task supabase secrets set X=1`, not `npx -y supabase@2.117.0 start`.", // 4
    `${F}sh illustrative`, //                                                        5
    "# Illustrative: a hosted project", //                                          6
    "npx -y deno@2.9.6 task supabase login   # `deno task dev --database x`", //   7
    F, //                                                                            8
  ].join("\n");
  assert.deepEqual(inlineCommandProblems(markdown, "c.md"), [
    "c.md:4: no supabase task in a project of your own: say npx -y supabase@2.117.0 …",
    "c.md:7: no supabase task in a project of your own: say npx -y supabase@2.117.0 …",
    "c.md:2: bare deno: say npx -y deno@2.9.6 task … (`AUTO_CONFIRM=true deno task dev`)",
    "c.md:2: bare deno: say npx -y deno@2.9.6 task … (`deno task backend-keys new FILE`)",
    "c.md:4: bare deno: say npx -y deno@2.9.6 task … (`deno task supabase secrets set X=1`)",
  ]);
});

Deno.test("readingOrder() puts README.md first, then the files in the order README links them, then the rest", () => {
  const readme =
    "[ops](docs/operations.md) and [py](./python/README.md#install), again [ops](docs/operations.md)";
  assert.deepEqual(
    readingOrder(["z.md", "python/README.md", "docs/a.md", "docs/operations.md", "README.md"], readme),
    ["README.md", "docs/operations.md", "python/README.md", "docs/a.md", "z.md"],
  );
});
