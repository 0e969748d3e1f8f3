/**
 * Go's `strconv.ParseBool`, for the boolean settings Supabase Auth (GoTrue) reads that way, such as
 * `GOTRUE_SESSIONS_SINGLE_PER_USER` (and so the function's `AUTH_SESSIONS_SINGLE_PER_USER`).
 *
 * @module
 */

const TRUE = new Set(["1", "t", "T", "TRUE", "true", "True"]);
const FALSE = new Set(["0", "f", "F", "FALSE", "false", "False"]);

/**
 * Parses a boolean as Go does.
 *
 * @param text The value.
 * @returns The boolean, or undefined when Go would refuse the value (`yes`, `on`, `2`, ...).
 * @example
 * ```ts
 * console.log(parseGoBool("T"), parseGoBool("yes")); // true undefined
 * ```
 */
export function parseGoBool(text: string): boolean | undefined {
  if (TRUE.has(text)) return true;
  if (FALSE.has(text)) return false;
  return undefined;
}
