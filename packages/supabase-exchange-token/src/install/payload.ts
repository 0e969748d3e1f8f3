/**
 * What the package installs, as `pack_payload.ts` writes it at pack time: the repository's migrations and
 * functions under `payload/supabase/`, and `payload/payload.json` describing them.
 *
 * @module
 */

/** One `[functions.<name>]` block of the repository's `config.toml`, as text. */
export interface ConfigBlock {
  /** The function's name, e.g. `exchange-token`. */
  name: string;
  /** The block with the comment lines above it, ending in a newline. */
  text: string;
}

/** `payload/payload.json`. */
export interface Payload {
  /** The package's version, recorded in the project's manifest. */
  version: string;
  /** The Supabase CLI version the repository pins and tests with, for the printed commands. */
  supabaseCliVersion: string;
  /** The functions, in the order they are deployed. */
  functions: string[];
  /** Every file under `supabase/functions/` (paths from the project root) and its SHA-256. */
  files: Record<string, string>;
  /** The migrations' file names in `supabase/migrations/`, oldest first, and each one's SHA-256. */
  migrations: Record<string, string>;
  /** The functions' `config.toml` blocks. */
  configBlocks: ConfigBlock[];
}

/** The payload's description file, inside the payload folder. */
export const PAYLOAD_FILE = "payload.json";
