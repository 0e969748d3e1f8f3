/**
 * One side of `deno task bench --compare`, in-process: run in its own process with the revision's function
 * `deno.json` as config, it imports that revision's exchange (`<tree>/supabase/functions/_shared/exchange/`),
 * calls its handler for returning users one at a time, and prints the measured rate as one JSON line.
 *
 * Arguments: the tree, and a JSON file with the function's environment, the tokens and the iterations.
 *
 * @module
 */
import { measure } from "./_measure.ts";
import { exchangeRequest } from "./_users.ts";

const [tree, inputFile] = Deno.args;
const input = JSON.parse(await Deno.readTextFile(inputFile)) as {
  env: Record<string, string>;
  tokens: string[];
  iterations: number;
};
const exchange = `${tree}/supabase/functions/_shared/exchange`;
const { loadExchangeConfig } = await import(`${exchange}/config.ts`);
const { createExchangeApp } = await import(`${exchange}/app.ts`);
const app = createExchangeApp(loadExchangeConfig(input.env), { log: () => {} });
try {
  const rate = await measure(async (i) => {
    const res: Response = await app.handler(exchangeRequest(input.tokens[i % input.tokens.length]));
    if (res.status !== 200) throw new Error(`exchange answered ${res.status}: ${await res.text()}`);
    await res.body?.cancel();
  }, input.iterations);
  console.log(JSON.stringify(rate));
} finally {
  await app.close();
}
