/**
 * The installer's one error type: what stops a command, said in a line to the user (the CLI prints its
 * message, never a stack trace).
 *
 * @module
 */

/** Why a command cannot run here at all. */
export class InstallError extends Error {
  override name = "InstallError";
}
