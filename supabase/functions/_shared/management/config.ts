/**
 * The settings of the `tenants` and `invitations` functions (docs/tenants.md) on top of every function's
 * (`../core/config.ts`): the service key that mails invitations through Auth's admin API, and where their
 * links land.
 *
 * @module
 */
import {
  ConfigError,
  defaultKey,
  type Env,
  isSet,
  loadServiceConfig,
  readUrl,
  type ServiceConfig,
} from "../core/config.ts";

/** Everything the `tenants` and `invitations` functions need, validated (docs/tenants.md). */
export interface ManagementConfig extends ServiceConfig {
  /**
   * The key that calls Auth's admin API to mail invitations: the `default` entry of `SUPABASE_SECRET_KEYS`,
   * else `SUPABASE_SERVICE_ROLE_KEY`. Absent, invitations are made but no mail is sent (`email_sent: false`).
   */
  serviceKey?: string;
  /** `INVITE_REDIRECT_URL`: where invitation links land; absent, Auth's site URL. */
  inviteRedirectUrl?: string;
}

/**
 * Parses and validates the settings of the `tenants` and `invitations` functions: those of every function,
 * the service key Supabase injects (to mail invitations) and `INVITE_REDIRECT_URL`.
 *
 * @param env The environment, e.g. `Deno.env.toObject()`.
 * @returns The validated settings.
 * @throws {ConfigError} `server_misconfigured`, naming the first setting that is missing or unsafe.
 * @example
 * ```ts
 * const config = loadManagementConfig(Deno.env.toObject());
 * ```
 */
export function loadManagementConfig(env: Env): ManagementConfig {
  const service = loadServiceConfig(env);
  const serviceKey = _serviceKey(env);
  const inviteRedirectUrl = isSet(env.INVITE_REDIRECT_URL)
    ? readUrl(env, "INVITE_REDIRECT_URL", ["http:", "https:"], "is not an http(s) URL").href
    : undefined;
  return {
    ...service,
    ...(serviceKey ? { serviceKey } : {}),
    ...(inviteRedirectUrl ? { inviteRedirectUrl } : {}),
  };
}

// The secret key first, as core/config.ts prefers the publishable key: a project can disable its legacy keys.
function _serviceKey(env: Env): string | undefined {
  if (isSet(env.SUPABASE_SECRET_KEYS)) {
    const key = defaultKey(env.SUPABASE_SECRET_KEYS, "SUPABASE_SECRET_KEYS");
    if (key) return key;
    throw new ConfigError("SUPABASE_SECRET_KEYS", "holds no key");
  }
  return isSet(env.SUPABASE_SERVICE_ROLE_KEY) ? env.SUPABASE_SERVICE_ROLE_KEY.trim() : undefined;
}
