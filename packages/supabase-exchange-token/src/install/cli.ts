#!/usr/bin/env node
/**
 * The `supabase-exchange-token` command: `init | upgrade [--force] [--dir <project root>]` (`command.ts`).
 *
 * @module
 */
import process from "node:process";
import { fileURLToPath } from "node:url";
import { runCommand } from "./command.ts";

process.exitCode = await runCommand(process.argv.slice(2), {
  out: (line) => console.log(line),
  err: (line) => console.error(line),
  cwd: process.cwd(),
  payloadDir: fileURLToPath(new URL("../../payload/", import.meta.url)),
});
