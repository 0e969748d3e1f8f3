/**
 * Test support for the `tenants` and `invitations` functions with real parts: a migrated Postgres, the Auth
 * emulator confirming addresses by mail into a real mailbox, and three handlers built on them as the local
 * stack builds them: the two management functions and the exchange (to see a change in the next exchange).
 * With `DB_POOLER=transaction`, the handlers reach Postgres through the TLS transaction pooler.
 *
 * @module
 */
import { openTestDatabase, type TestDatabase } from "../_db.ts";
import { functionDatabase } from "../_pooler.ts";
import { type AuthEmulator, startAuthEmulator } from "../../dev/auth_emulator/mod.ts";
import { DEFAULT_SENDER, type Mailbox, startMailbox } from "../../dev/mailbox/mod.ts";
import { createExchangeApp } from "../../supabase/functions/_shared/exchange/app.ts";
import type { FunctionApp } from "../../supabase/functions/_shared/core/serve.ts";
import type { ManagementConfig } from "../../supabase/functions/_shared/management/config.ts";
import {
  createManagementApp,
  type ManagementAppOptions,
} from "../../supabase/functions/_shared/management/app.ts";
import type { ManagementLogEntry } from "../../supabase/functions/_shared/management/handler.ts";
import { signUp } from "./_setup.ts";
import { exchangeConfig, managementConfig, ORIGIN } from "../_fixtures.ts";

/** Where invitation links land in these tests. */
export const INVITE_REDIRECT = "http://127.0.0.1:3000/welcome";

/** The parts, and the three functions built on them. */
export interface ManagementHarness {
  db: TestDatabase;
  auth: AuthEmulator;
  mailbox: Mailbox;
  config: ManagementConfig;
  tenants: FunctionApp;
  invitations: FunctionApp;
  exchange: FunctionApp;
  logs: ManagementLogEntry[];
  /** Builds another management app on the same parts, with overrides (closed by `close()`). */
  appWith(
    name: "tenants" | "invitations",
    overrides: Partial<ManagementConfig>,
    options?: ManagementAppOptions,
  ): FunctionApp;
  close(): Promise<void>;
}

/** Starts Postgres, a mailbox, the Auth emulator (confirmations on) and the three functions. */
export async function openManagementHarness(): Promise<ManagementHarness> {
  const db = await openTestDatabase();
  const mailbox = await startMailbox();
  const auth = await startAuthEmulator({
    databaseUrl: db.authUrl,
    autoConfirm: false,
    smtp: { ...mailbox.smtp, ...DEFAULT_SENDER },
    // Several mails of a kind to one address within a test.
    maxFrequencySeconds: 0,
  });
  const target = await functionDatabase(db);
  const config = managementConfig(auth, target, { inviteRedirectUrl: INVITE_REDIRECT });
  const logs: ManagementLogEntry[] = [];
  const trusted = { emailTrusted: () => Promise.resolve(true), log: (e: ManagementLogEntry) => logs.push(e) };
  const built: Array<{ close(timeout?: number): Promise<void> }> = [];
  const keep = <T extends { close(timeout?: number): Promise<void> }>(app: T) => (built.push(app), app);
  const exchange = keep(createExchangeApp(exchangeConfig(auth, target), { log: () => {} }));
  return {
    db,
    auth,
    mailbox,
    config,
    tenants: keep(createManagementApp("tenants", config, trusted)),
    invitations: keep(createManagementApp("invitations", config, trusted)),
    exchange,
    logs,
    appWith: (name, overrides, options = {}) =>
      keep(createManagementApp(name, { ...config, ...overrides }, { ...trusted, ...options })),
    async close() {
      for (const app of built) await app.close(1);
      await target.close();
      await auth.stop();
      await mailbox.stop();
      await db.close();
    },
  };
}

/** A signed-in user with a proven address. */
export interface Member {
  userId: string;
  email: string;
  accessToken: string;
}

/** Signs a user up and proves the address (`signUp`), keeping what the tests need. */
export async function provenUser(
  auth: AuthEmulator,
  email = `u-${crypto.randomUUID().slice(0, 8)}@example.com`,
): Promise<Member> {
  const { userId, accessToken } = await signUp(auth, email);
  return { userId, email, accessToken };
}

/** A request to a management function, as supabase-js `functions.invoke` sends it. */
export function call(
  token: string | null,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Request {
  const all: Record<string, string> = { origin: ORIGIN, ...headers };
  if (token !== null) all.authorization = `Bearer ${token}`;
  if (body !== undefined) all["content-type"] ??= "application/json";
  return new Request(`http://localhost/functions/v1${path}`, {
    method,
    headers: all,
    body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
  });
}

/** Sends a request to a handler and reads its JSON answer. */
export async function send(
  app: { handler: (req: Request) => Promise<Response> },
  req: Request,
): Promise<{ status: number; headers: Headers; body: Record<string, unknown> }> {
  const res = await app.handler(req);
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text === "" ? {} : JSON.parse(text) };
}

/** The caller's next exchange: its status and, on success, the tenant and role it carries. */
export async function nextExchange(
  h: ManagementHarness,
  token: string,
  tenantId?: string,
): Promise<{ status: number; tenant_id?: string; role?: string; error?: string }> {
  const { status, body } = await send(
    h.exchange,
    call(token, "POST", "/exchange-token", tenantId === undefined ? undefined : { tenant_id: tenantId }),
  );
  return status === 200
    ? { status, tenant_id: body.tenant_id as string, role: body.role as string }
    : { status, error: body.error as string };
}
