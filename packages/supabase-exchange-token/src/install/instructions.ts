/**
 * What the installer prints once the files are in place: the secrets the functions need and the commands
 * that push and deploy them, with the Supabase CLI version the package was tested with, run through npx.
 *
 * @module
 */
import type { Payload } from "./payload.ts";

/**
 * The next steps after an install, as lines to print.
 *
 * @param payload What was installed (its functions and the CLI version).
 * @returns The lines.
 * @example
 * ```ts ignore
 * console.log(nextSteps(payload).join("\n"));
 * ```
 */
export function nextSteps(payload: Payload): string[] {
  const cli = `npx -y supabase@${payload.supabaseCliVersion}`;
  return [
    "Secrets the functions read (supabase secrets set):",
    "  BACKEND_JWT_SECRET   required: the secret your backend verifies HS256 tokens with (PyJWT's key)",
    "  ALLOWED_ORIGINS      your app's origins, comma-separated (default *)",
    "  INVITE_REDIRECT_URL  where invitation links land (default: Auth's site URL)",
    "",
    "Then, from this folder:",
    `  ${cli} login`,
    `  ${cli} link --project-ref <ref>`,
    `  ${cli} db push`,
    `  ${cli} secrets set BACKEND_JWT_SECRET='<your backend JWT secret>' ALLOWED_ORIGINS='https://app.example.com'`,
    `  ${cli} functions deploy ${payload.functions.join(" ")} --use-api`,
    "",
    "Until you add tenants with invitations, domain claims or a policy, every exchange answers 403",
    "no_tenant (docs/tenancy.md of the exchange-token repository).",
  ];
}
