/**
 * Test support for the exchange-token handler with real parts: a migrated Postgres from the harness, the
 * Auth emulator (supabase-js talks HTTP to it as to Supabase Auth), and the handler built from a config
 * object as the local stack and the benchmark build it. With `DB_POOLER=transaction`, the handler reaches
 * Postgres through the TLS transaction pooler (tests/_pooler.ts).
 */
import { createClient } from "@supabase/supabase-js";
import { openTestDatabase, type TestDatabase } from "../_db.ts";
import { functionDatabase } from "../_pooler.ts";
import {
  type AuthEmulator,
  type AuthEmulatorOptions,
  startAuthEmulator,
} from "../../dev/auth_emulator/mod.ts";
import { createExchangeApp } from "../../supabase/functions/_shared/exchange/app.ts";
import type { FunctionApp } from "../../supabase/functions/_shared/core/serve.ts";
import type { ExchangeConfig } from "../../supabase/functions/_shared/exchange/config.ts";
import type { SessionLimits } from "../../supabase/functions/_shared/core/config.ts";
import type { ExchangeLogEntry } from "../../supabase/functions/_shared/exchange/routes.ts";
import { exchangeConfig, ORIGIN, PASSWORD } from "../_fixtures.ts";

/** A database, an Auth emulator and the function built on them. */
export interface Harness {
  db: TestDatabase;
  auth: AuthEmulator;
  app: FunctionApp;
  config: ExchangeConfig;
  logs: ExchangeLogEntry[];
  /** Builds another app on the same parts, with overrides (closed by `close()`). */
  appWith(overrides: Partial<ExchangeConfig>, options?: { now?: () => Date }): FunctionApp;
  close(): Promise<void>;
}

/** Options for {@linkcode openHarness}. */
export interface HarnessOptions {
  mode?: "es256" | "hs256";
  /** Auth's session limits, given to the emulator and the function alike (as an operator keeps them). */
  sessions?: SessionLimits;
  /**
   * Further emulator settings (e.g. its refresh token reuse interval). Auth confirms addresses by mail
   * unless `autoConfirm: true` ("Confirm email" off), as `supabase/config.toml` says, so that the function
   * trusts proven addresses.
   */
  auth?: Partial<AuthEmulatorOptions>;
}

/** Starts Postgres, the Auth emulator and the function. */
export async function openHarness(options: HarnessOptions = {}): Promise<Harness> {
  const db = await openTestDatabase();
  const auth = await startAuthEmulator({
    autoConfirm: false,
    ...options.auth,
    databaseUrl: db.authUrl,
    mode: options.mode ?? "es256",
    sessionLimits: options.sessions,
  });
  const target = await functionDatabase(db);
  const config = exchangeConfig(auth, target, options.sessions ? { sessions: options.sessions } : {});
  const logs: ExchangeLogEntry[] = [];
  const extra: FunctionApp[] = [];
  const app = createExchangeApp(config, { log: (entry) => logs.push(entry) });
  return {
    db,
    auth,
    app,
    config,
    logs,
    appWith(overrides, appOptions = {}) {
      const built = createExchangeApp({ ...config, ...overrides }, {
        log: (entry) => logs.push(entry),
        now: appOptions.now,
      });
      extra.push(built);
      return built;
    },
    async close() {
      for (const built of [app, ...extra]) await built.close(1);
      await target.close();
      await auth.stop();
      await db.close();
    },
  };
}

/**
 * Signs a new user up through supabase-js (as the browser does), confirms the address (at once under
 * autoconfirm; else through the admin API, which marks the email identity verified as the mailed link
 * would), and returns their session.
 */
export async function signUp(auth: AuthEmulator, email = `u-${crypto.randomUUID().slice(0, 8)}@example.com`) {
  const supabase = createClient(auth.url, auth.anonKey, {
    auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
  });
  const { data, error } = await supabase.auth.signUp({ email, password: PASSWORD });
  if (error || !data.user) throw error ?? new Error("no user from sign-up");
  if (!data.session) {
    await confirmByAdmin(auth, data.user.id, email);
    const signedIn = await supabase.auth.signInWithPassword({ email, password: PASSWORD });
    if (signedIn.error) throw signedIn.error;
  }
  const { data: { session } } = await supabase.auth.getSession();
  if (!session) throw new Error("no session after sign-up");
  return { supabase, userId: data.user.id, email, accessToken: session.access_token };
}

/**
 * Confirms a user's address as an operator vouching for it: `PUT /admin/users/{id}` with the same address
 * and `email_confirm`, which GoTrue makes the email identity's `email_verified: true`.
 */
export async function confirmByAdmin(auth: AuthEmulator, userId: string, email: string): Promise<void> {
  const res = await fetch(`${auth.url}/auth/v1/admin/users/${userId}`, {
    method: "PUT",
    headers: { authorization: `Bearer ${auth.serviceRoleKey}`, "content-type": "application/json" },
    body: JSON.stringify({ email, email_confirm: true }),
  });
  if (!res.ok) throw new Error(`admin confirm: HTTP ${res.status} ${await res.text()}`);
  await res.body?.cancel();
}

/** A POST to the function with a bearer token and an origin. */
export function exchangeRequest(
  token: string | null,
  init: { body?: BodyInit; headers?: Record<string, string>; method?: string } = {},
): Request {
  const headers: Record<string, string> = { origin: ORIGIN, ...init.headers };
  if (token !== null) headers.authorization = `Bearer ${token}`;
  return new Request("http://localhost/functions/v1/exchange-token", {
    method: init.method ?? "POST",
    body: init.body,
    headers,
  });
}

/** Decodes a JWT's payload without verifying it (the tests verify separately). */
export function payloadOf(token: string): Record<string, unknown> {
  return JSON.parse(atob(token.split(".")[1].replaceAll("-", "+").replaceAll("_", "/")));
}
