/**
 * The SHA-256 a manifest records for each file.
 *
 * @module
 */
import { createHash } from "node:crypto";

/**
 * The SHA-256 of some bytes, in hex.
 *
 * @param bytes A file's contents.
 * @returns 64 hex digits.
 */
export function sha256(bytes: Uint8Array | string): string {
  return createHash("sha256").update(bytes).digest("hex");
}
