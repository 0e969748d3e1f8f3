/**
 * Whether a confirmed address proves anything in this project: not when Supabase Auth confirms addresses
 * without mail ("Confirm email" off, GoTrue's `GOTRUE_MAILER_AUTOCONFIRM`). Then anyone can sign up as
 * `ceo@acme.com`, and an anonymous user who adds an address has it marked verified on its identity with
 * no mail sent, so the invitation and domain strategies must not run and the backend token's `email` must
 * be null. The answer goes into the tenancy transaction (`tenancy.email_trusted`), where
 * `tenancy.resolve_tenant()` also requires the address itself to be proven by a verified identity.
 *
 * The project's setting is public: `GET /auth/v1/settings` answers `mailer_autoconfirm`. It is read once
 * per isolate, on its first exchange (which waits for it, within the Auth timeout), then again every
 * {@linkcode SETTINGS_REFRESH_MS} in the background while requests keep being answered with the last value.
 * A read that fails (Auth down, slow, or an answer without a boolean `mailer_autoconfirm`):
 * - before any read succeeded: untrusted (fail closed: no invitation or domain provisioning, `email` null,
 *   the other strategies and every returning member unaffected), tried again after
 *   {@linkcode SETTINGS_RETRY_MS};
 * - after one succeeded: the last value stays (a setting that rarely changes outlives a short outage),
 *   tried again after {@linkcode SETTINGS_RETRY_MS}.
 * Never an error: the exchange is never refused for it. Each read that finds autoconfirm on, or fails,
 * writes one warning line (so at most one per isolate per refresh).
 *
 * @module
 */
import { withDeadline } from "./deadline.ts";
import { describeCause, type EmailTrustLogEntry, jsonLineLog } from "./log.ts";

/** How long a read of Auth's settings is used before it is read again (5 minutes). */
export const SETTINGS_REFRESH_MS = 5 * 60_000;
/** How long after a failed read the settings are tried again (30 seconds). */
export const SETTINGS_RETRY_MS = 30_000;

/** Whether this project's confirmed addresses are proven by mail; never rejects. */
export type EmailTrusted = () => Promise<boolean>;

/** Options for {@linkcode createEmailTrust}. */
export interface EmailTrustOptions {
  /** The project URL (`SUPABASE_URL`). */
  supabaseUrl: string;
  /** The anon or publishable key, sent as `apikey`. */
  supabaseKey: string;
  /** Time allowed for one read. */
  timeoutMs: number;
  /** The fetch to use (a seam for tests); the global one by default. */
  fetch?: typeof fetch;
  /** The clock, in milliseconds (default `Date.now`). */
  now?: () => number;
  /** Where the warning lines go (default: one JSON line on stdout). */
  log?: (entry: EmailTrustLogEntry) => void;
}

/**
 * Builds the per-isolate reader of Auth's `mailer_autoconfirm`.
 *
 * @param options The project, its key, the timeout, and seams.
 * @returns A function answering whether confirmed addresses are trusted (true only when a read said
 *   `mailer_autoconfirm: false`).
 * @example
 * ```ts ignore
 * const emailTrusted = createEmailTrust({ supabaseUrl, supabaseKey, timeoutMs: 5000 });
 * if (await emailTrusted()) console.log("invitations and domain claims are on");
 * ```
 */
export function createEmailTrust(options: EmailTrustOptions): EmailTrusted {
  const baseFetch = options.fetch ?? globalThis.fetch;
  const now = options.now ?? Date.now;
  const log = options.log ?? jsonLineLog;
  const url = `${options.supabaseUrl.replace(/\/+$/, "")}/auth/v1/settings`;
  let trusted: boolean | undefined;
  let nextReadAt = 0;
  let reading: Promise<void> | undefined;

  const read = async (): Promise<void> => {
    try {
      const autoconfirm = await withDeadline(
        _readAutoconfirm(baseFetch, url, options.supabaseKey, options.timeoutMs),
        options.timeoutMs,
        () => new Error("Auth's settings did not arrive in time"),
      );
      trusted = !autoconfirm;
      nextReadAt = now() + SETTINGS_REFRESH_MS;
      if (autoconfirm) {
        _warn(log, {
          level: "warn",
          msg: "email_trust",
          trusted: false,
          reason: "mailer_autoconfirm",
          effect: "invitation and domain provisioning are off and the email claim is null",
        });
      }
    } catch (err) {
      nextReadAt = now() + SETTINGS_RETRY_MS;
      _warn(log, {
        level: "warn",
        msg: "email_trust",
        trusted: trusted ?? false,
        reason: "settings_unavailable",
        effect: trusted === undefined
          ? "invitation and domain provisioning are off and the email claim is null until Auth's settings are read"
          : `the last reading (${
            trusted ? "confirmations on" : "autoconfirm"
          }) stays until Auth's settings are read`,
        cause: describeCause(err),
      });
    } finally {
      reading = undefined;
    }
  };

  let first: Promise<void> | undefined;
  return async () => {
    if (first === undefined) {
      first = reading = read();
    } else if (reading === undefined && now() >= nextReadAt) {
      // Later reads happen beside the requests they serve, which keep the last value meanwhile.
      reading = read();
    }
    // Only the isolate's first exchanges wait, for the first read (already settled later on).
    await first;
    return trusted ?? false;
  };
}

async function _readAutoconfirm(
  fetchFn: typeof fetch,
  url: string,
  apikey: string,
  timeoutMs: number,
): Promise<boolean> {
  const res = await fetchFn(url, {
    headers: { apikey, accept: "application/json" },
    signal: AbortSignal.timeout(timeoutMs),
  });
  if (!res.ok) {
    await res.body?.cancel();
    throw Object.assign(new Error(`Auth's settings answered HTTP ${res.status}`), {
      code: String(res.status),
    });
  }
  const settings = await res.json() as { mailer_autoconfirm?: unknown } | null;
  if (typeof settings?.mailer_autoconfirm !== "boolean") {
    throw new Error("Auth's settings carry no boolean mailer_autoconfirm");
  }
  return settings.mailer_autoconfirm;
}

function _warn(log: (entry: EmailTrustLogEntry) => void, entry: EmailTrustLogEntry): void {
  try {
    log(entry);
  } catch {
    // A broken log sink must not change the answer.
  }
}
