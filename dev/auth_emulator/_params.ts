/**
 * Reading and validating request parameters as GoTrue does: JSON bodies decoded the way Go's
 * `json.Unmarshal` fills GoTrue's params structs, and GoTrue's email, password and audience rules.
 *
 * @module
 */
import { HttpError } from "./_errors.ts";

/** The audience GoTrue uses when a request names none. */
export const DEFAULT_AUDIENCE = "authenticated";
const MIN_PASSWORD_LENGTH = 6;
const MAX_PASSWORD_LENGTH = 72;
// The pattern of github.com/badoux/checkmail, which GoTrue's validateEmail uses.
const EMAIL = new RegExp(
  "^[a-zA-Z0-9.!#$%&'*+/=?^_`{|}~-]+@[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?" +
    "(?:\\.[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*$",
);

/** The JSON type a params field must have. */
export type FieldType = "string" | "object" | "boolean";

const FIELD_CHECKS: Record<FieldType, (value: unknown) => boolean> = {
  string: (value) => typeof value === "string",
  boolean: (value) => typeof value === "boolean",
  object: (value) => typeof value === "object" && !Array.isArray(value),
};

/**
 * Reads a JSON body the way Go's `json.Unmarshal` into GoTrue's params struct does: `null` or absent
 * fields are left out, a field of the wrong type or a body that is not an object is `bad_json`.
 *
 * @param req The request whose body is read.
 * @param goType The name of GoTrue's params struct, for the error message (e.g. `SignupParams`).
 * @param fields The fields to keep and their types.
 * @returns The fields present, with their values.
 * @throws {HttpError} 400 `bad_json`.
 * @example Read a sign-up's fields
 * ```ts
 * const req = new Request("http://127.0.0.1/", { method: "POST", body: '{"email":"ada@example.com"}' });
 * const params = await readParams(req, "SignupParams", { email: "string", password: "string" });
 * console.log(params); // { email: "ada@example.com" }
 * ```
 */
export async function readParams(
  req: Request,
  goType: string,
  fields: Record<string, FieldType>,
): Promise<Record<string, unknown>> {
  const fail = (detail: string): never => {
    throw new HttpError(400, "bad_json", `Could not parse request body as JSON: ${detail}`);
  };
  let body: unknown;
  try {
    body = JSON.parse(await req.text());
  } catch {
    return fail("invalid character or unexpected end of JSON input");
  }
  if (body === null) return {};
  if (typeof body !== "object" || Array.isArray(body)) {
    return fail(`json: cannot unmarshal ${goKind(body)} into Go value of type api.${goType}`);
  }
  const params: Record<string, unknown> = {};
  for (const [name, type] of Object.entries(fields)) {
    const value = (body as Record<string, unknown>)[name];
    if (value === undefined || value === null) continue;
    const ok = FIELD_CHECKS[type](value);
    if (!ok) {
      const goField = type === "object" ? "map[string]interface {}" : type === "boolean" ? "bool" : "string";
      fail(
        `json: cannot unmarshal ${goKind(value)} into Go struct field ${goType}.${name} of type ${goField}`,
      );
    }
    params[name] = value;
  }
  return params;
}

function goKind(value: unknown): string {
  if (Array.isArray(value)) return "array";
  if (typeof value === "boolean") return "bool";
  return typeof value === "object" ? "object" : typeof value;
}

/**
 * GoTrue's `checkPasswordStrength` with the hosted defaults (6 characters, no required classes).
 *
 * @param password The password.
 * @returns The error GoTrue would answer with (400 `validation_failed` when too long, 422
 *   `weak_password` when too short), or undefined when the password passes.
 * @example Too short
 * ```ts
 * console.log(checkPasswordStrength("abc")?.code); // "weak_password"
 * ```
 */
export function checkPasswordStrength(password: string): HttpError | undefined {
  if (new TextEncoder().encode(password).length > MAX_PASSWORD_LENGTH) {
    return new HttpError(
      400,
      "validation_failed",
      `Password cannot be longer than ${MAX_PASSWORD_LENGTH} characters`,
    );
  }
  if (password.length < MIN_PASSWORD_LENGTH) {
    const message = `Password should be at least ${MIN_PASSWORD_LENGTH} characters.`;
    return new HttpError(422, "weak_password", message, { weak_password: { reasons: ["length"] } });
  }
  return undefined;
}

/**
 * GoTrue's `validateEmail`: required, at most 255 characters, checkmail's format.
 *
 * @param email The address as sent.
 * @returns The address lower-cased.
 * @throws {HttpError} 400 `validation_failed`.
 * @example
 * ```ts
 * console.log(validateEmail("Ada@Example.com")); // "ada@example.com"
 * ```
 */
export function validateEmail(email: string): string {
  if (email === "") throw new HttpError(400, "validation_failed", "An email address is required");
  if (email.length > 255) throw new HttpError(400, "validation_failed", "An email address is too long");
  if (!EMAIL.test(email)) {
    throw new HttpError(400, "validation_failed", "Unable to validate email address: invalid format");
  }
  return email.toLowerCase();
}

/**
 * GoTrue's `validatePhone`: the number without its `+` and spaces, in E.164.
 *
 * @param phone The number as given.
 * @returns The number, digits only.
 * @throws {HttpError} 400 `validation_failed` "Invalid phone number format (E.164 required)".
 * @example
 * ```ts
 * console.log(validatePhone("+1 415 555 2671")); // "14155552671"
 * ```
 */
export function validatePhone(phone: string): string {
  const formatted = phone.replace(/^\+/, "").replaceAll(" ", "");
  if (!/^[1-9][0-9]{1,14}$/.test(formatted)) {
    throw new HttpError(400, "validation_failed", "Invalid phone number format (E.164 required)");
  }
  return formatted;
}

/**
 * The audience a request asks for: GoTrue reads `X-JWT-AUD`, else uses its default.
 *
 * @param req The request.
 * @returns The audience.
 * @example
 * ```ts
 * console.log(requestAud(new Request("http://127.0.0.1/"))); // "authenticated"
 * ```
 */
export function requestAud(req: Request): string {
  return req.headers.get("X-JWT-AUD") || DEFAULT_AUDIENCE;
}
