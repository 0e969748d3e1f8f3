/**
 * A deadline for a promise, with its timer always cleared (no timer outlives the request).
 *
 * @module
 */

/**
 * Settles like `promise`, or rejects with `onTimeout()` once `ms` have passed, whichever comes first.
 *
 * @param promise The work.
 * @param ms The time allowed.
 * @param onTimeout Builds the error to reject with.
 * @returns The work's result.
 * @throws The work's error, or `onTimeout()`'s.
 * @example
 * ```ts
 * await withDeadline(fetch("https://example.com/"), 5000, () => new Error("too slow"));
 * ```
 */
export function withDeadline<T>(promise: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onTimeout()), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
