/**
 * Moved to `exchange/sign.ts`. This re-export stays only until `tests/docs/readme_test.ts` (kept by the
 * documentation's editor) imports the new path; then it goes.
 *
 * @module
 */
export * from "./exchange/sign.ts";
