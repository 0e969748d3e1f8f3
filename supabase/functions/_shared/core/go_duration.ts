/**
 * Go's `time.ParseDuration`, for the settings Supabase Auth (GoTrue) reads as Go durations: the session
 * limits the function is given (`AUTH_SESSIONS_TIMEBOX`, as `GOTRUE_SESSIONS_TIMEBOX`), and on the local
 * stack `[auth.email] max_frequency` and `[auth.sessions]` in `supabase/config.toml` and the admin API's
 * `ban_duration`.
 *
 * @module
 */

const UNIT_MS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  "µs": 1e-3,
  "μs": 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

/**
 * Parses a Go duration (`"1s"`, `"1h30m"`, `"-1.5h"`, `"0"`) into milliseconds.
 *
 * @param text The duration as Go writes it.
 * @returns The duration in milliseconds.
 * @throws {SyntaxError} With Go's own message: `time: invalid duration "…"`, `time: missing unit in
 *   duration "…"` or `time: unknown unit "…" in duration "…"`.
 * @example
 * ```ts
 * console.log(parseGoDuration("1m30s")); // 90000
 * ```
 */
export function parseGoDuration(text: string): number {
  const quoted = JSON.stringify(text);
  const invalid = () => new SyntaxError(`time: invalid duration ${quoted}`);
  let rest = text;
  let sign = 1;
  if (rest.startsWith("-") || rest.startsWith("+")) {
    sign = rest.startsWith("-") ? -1 : 1;
    rest = rest.slice(1);
  }
  if (rest === "0") return 0;
  if (rest === "") throw invalid();
  let total = 0;
  while (rest !== "") {
    const number = /^(\d*)(?:\.(\d*))?/.exec(rest)!;
    if (number[0] === "" || number[0] === ".") throw invalid();
    rest = rest.slice(number[0].length);
    const unit = /^[^\d.]*/.exec(rest)![0];
    if (unit === "") throw new SyntaxError(`time: missing unit in duration ${quoted}`);
    if (!Object.hasOwn(UNIT_MS, unit)) {
      throw new SyntaxError(`time: unknown unit ${JSON.stringify(unit)} in duration ${quoted}`);
    }
    rest = rest.slice(unit.length);
    total += Number(number[0].startsWith(".") ? `0${number[0]}` : number[0]) * UNIT_MS[unit];
  }
  return sign * total;
}
