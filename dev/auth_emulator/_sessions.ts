/**
 * When a session ends without anybody ending it: GoTrue's `Session.CheckValidity` and
 * `Session.LastRefreshedAt` (internal/models/sessions.go), under the limits of `GOTRUE_SESSIONS_TIMEBOX`,
 * `GOTRUE_SESSIONS_INACTIVITY_TIMEOUT` and `GOTRUE_SESSIONS_SINGLE_PER_USER`. GoTrue writes nothing when a
 * session ends so (not even `not_after`): it refuses the session's refresh, and its admin routes.
 *
 * @module
 */
import type { SessionLimits } from "../../supabase/functions/_shared/core/config.ts";

export type { SessionLimits };

/**
 * The columns of an `auth.sessions` row that decide when it ends (`_store.ts`'s `SessionRow` has them): the
 * checks below read no more, and so need nothing of the store.
 */
export interface SessionTimes {
  created_at: Date;
  not_after: Date | null;
  /** The last refresh, when there was one. */
  refreshed_at: Date | null;
}

/** No timebox, no inactivity timeout, any number of sessions: GoTrue's defaults. */
export const NO_SESSION_LIMITS: SessionLimits = Object.freeze({
  timeboxSeconds: null,
  inactivityTimeoutSeconds: null,
  singlePerUser: false,
});

/** GoTrue's `SessionValidityReason`, without the low-AAL reason (no setting offers `allow_low_aal`). */
export type SessionValidity = "valid" | "past_not_after" | "past_timebox" | "timed_out";

/**
 * GoTrue's `Session.LastRefreshedAt`: `refreshed_at`, else the refresh token's time when later than the
 * session's start, else the start.
 *
 * @param session The session.
 * @param refreshTokenTime The presented refresh token's `updated_at` (on refresh), else undefined.
 * @returns When the session was last active.
 * @example
 * ```ts ignore
 * lastRefreshedAt(session).getTime();
 * ```
 */
export function lastRefreshedAt(session: SessionTimes, refreshTokenTime?: Date): Date {
  if (session.refreshed_at) return session.refreshed_at;
  if (refreshTokenTime && refreshTokenTime > session.created_at) return refreshTokenTime;
  return session.created_at;
}

/**
 * GoTrue's `Session.CheckValidity`: past `not_after`, past the timebox from its start, or inactive for longer
 * than the inactivity timeout.
 *
 * @param session The session.
 * @param limits The timebox and inactivity timeout.
 * @param now The time to judge at.
 * @param refreshTokenTime As {@linkcode lastRefreshedAt}.
 * @returns `valid`, or why not.
 * @example
 * ```ts ignore
 * if (checkSessionValidity(session, ctx.sessionLimits, ctx.now()) !== "valid") throw expired;
 * ```
 */
export function checkSessionValidity(
  session: SessionTimes,
  limits: SessionLimits,
  now: Date,
  refreshTokenTime?: Date,
): SessionValidity {
  const at = now.getTime();
  if (session.not_after && at > session.not_after.getTime()) return "past_not_after";
  if (limits.timeboxSeconds && at > session.created_at.getTime() + limits.timeboxSeconds * 1000) {
    return "past_timebox";
  }
  if (
    limits.inactivityTimeoutSeconds &&
    at > lastRefreshedAt(session, refreshTokenTime).getTime() + limits.inactivityTimeoutSeconds * 1000
  ) {
    return "timed_out";
  }
  return "valid";
}
