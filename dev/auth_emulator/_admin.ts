/**
 * The admin user API, behind GoTrue's `requireAdminCredentials` (a `service_role` token):
 * `GET/POST /admin/users` and `GET/PUT/DELETE /admin/users/{user_id}` (`internal/api/admin.go`).
 *
 * @module
 */
import { createHash } from "node:crypto";
import postgres from "postgres";
import { requireAdmin } from "./_authenticate.ts";
import type { AuthContext } from "./_context.ts";
import { HttpError } from "./_errors.ts";
import { withFactors } from "./_factor_json.ts";
import {
  createIdentity,
  emailClaims,
  findIdentity,
  listIdentities,
  updateIdentityData,
} from "./_identities.ts";
import { userJson } from "./_json.ts";
import { clearOneTimeTokens } from "./_one_time_tokens.ts";
import { checkPasswordStrength, readParams, validateEmail } from "./_params.ts";
import { encodeValues } from "./_redirect.ts";
import type { Db, UserRow } from "./_store.ts";
import {
  confirmUser,
  findDuplicateEmail,
  findUserById,
  hashPassword,
  insertUser,
  updateAppMetadata,
  updatePassword,
  updateUserMetadata,
} from "./_users.ts";
import { parseGoDuration } from "../../supabase/functions/_shared/core/go_duration.ts";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const NIL_UUID = "00000000-0000-0000-0000-000000000000";
const BCRYPT_HASH = /^\$2[abxy]?\$(\d\d)\$[./A-Za-z0-9]{53}$/;
const DEFAULT_PER_PAGE = 50;
// The admin API reads the audience from X-JWT-AUD, else GoTrue's default (an admin token has none).
const audOf = (req: Request) => req.headers.get("X-JWT-AUD") || "authenticated";

// GoTrue's AdminUserParams, as the JSON decoder fills it.
const ADMIN_USER_PARAMS = {
  id: "string",
  aud: "string",
  role: "string",
  email: "string",
  phone: "string",
  password: "string",
  password_hash: "string",
  email_confirm: "boolean",
  phone_confirm: "boolean",
  user_metadata: "object",
  app_metadata: "object",
  ban_duration: "string",
} as const;

/**
 * `GET /admin/users`: the audience's users, newest first, `page` and `per_page` (default 50) with
 * GoTrue's `Link` and `X-Total-Count` headers; `filter` matches the address or `full_name`.
 *
 * @param ctx The emulator's database and keys.
 * @param req The request, with a `service_role` bearer token.
 * @param url The request's URL.
 * @returns `{ users, aud }`.
 * @throws {HttpError} As {@linkcode requireAdmin}; 400 `validation_failed` for bad paging or sorting.
 * @example
 * ```ts ignore
 * const routes = { "/admin/users": { GET: listUsers, POST: createUser } };
 * ```
 */
export async function listUsers(ctx: AuthContext, req: Request, url: URL): Promise<Response> {
  await requireAdmin(ctx, req);
  const aud = audOf(req);
  const order = sortOrder(url);
  const uint = (name: string, fallback: number) => {
    const raw = url.searchParams.get(name);
    if (raw === null || raw === "") return fallback;
    if (!/^\d+$/.test(raw)) {
      throw new HttpError(
        400,
        "validation_failed",
        `Bad Pagination Parameters: strconv.ParseUint: parsing ${JSON.stringify(raw)}: invalid syntax`,
      );
    }
    return Number(raw);
  };
  const page = Math.max(uint("page", 1), 1);
  const perPage = uint("per_page", DEFAULT_PER_PAGE) || 20;
  const filter = url.searchParams.get("filter") ?? "";
  const like = `%${filter}%`;
  const where = ctx.sql`aud = ${aud} ${
    filter ? ctx.sql`and (email like ${like} or raw_user_meta_data->>'full_name' ilike ${like})` : ctx.sql``
  }`;
  const [{ count }] = await ctx.sql<
    { count: number }[]
  >`select count(*)::int as count from auth.users where ${where}`;
  const users = await ctx.sql<UserRow[]>`
    select * from auth.users where ${where}
     order by ${ctx.sql.unsafe(order)} limit ${perPage} offset ${(page - 1) * perPage}`;
  const bodies = await Promise.all(users.map(async (u) => userJson(u, await listIdentities(ctx.sql, u.id))));
  return Response.json({ users: bodies, aud }, { headers: paginationHeaders(url, page, perPage, count) });
}

/**
 * `POST /admin/users`: creates a user with an email identity; `email_confirm` confirms the address,
 * without marking the identity verified, as GoTrue does.
 *
 * @param ctx The emulator's database and keys.
 * @param req The request, with a `service_role` bearer token and GoTrue's `AdminUserParams`.
 * @returns The user.
 * @throws {HttpError} As {@linkcode requireAdmin}; 400 `validation_failed`, `bad_json`; 422 `email_exists`.
 * @example
 * ```ts ignore
 * const routes = { "/admin/users": { GET: listUsers, POST: createUser } };
 * ```
 */
export async function createUser(ctx: AuthContext, req: Request): Promise<Response> {
  await requireAdmin(ctx, req);
  const params = await readParams(req, "AdminUserParams", ADMIN_USER_PARAMS);
  const aud = (params.aud as string | undefined) || audOf(req);
  if (!params.email && !params.phone) {
    throw new HttpError(400, "validation_failed", "Cannot create a user without either an email or phone");
  }
  if (params.phone) throw new HttpError(400, "validation_failed", "Phone users are not emulated");
  const email = validateEmail(params.email as string);
  if (await findDuplicateEmail(ctx.sql, email, aud)) {
    throw new HttpError(422, "email_exists", "A user with this email address has already been registered");
  }
  if (params.password !== undefined && params.password_hash) {
    throw new HttpError(400, "validation_failed", "Only a password or a password hash should be provided");
  }
  const passwordHash = await adminPasswordHash(params);
  const id = params.id as string | undefined;
  if (id !== undefined && id !== "") {
    if (!UUID.test(id)) {
      throw new HttpError(400, "validation_failed", "ID must conform to the uuid v4 format");
    }
    if (id === NIL_UUID) throw new HttpError(400, "validation_failed", "ID cannot be a nil uuid");
  }
  const banMs = banDuration(params.ban_duration as string | undefined);
  let user: UserRow;
  try {
    user = await ctx.sql.begin(async (tx) => {
      let user = await insertUser(tx, {
        id: id || undefined,
        email,
        aud,
        role: (params.role as string | undefined) || "authenticated",
        passwordHash,
        appMetadata: { provider: "email", providers: ["email"] },
        userMetadata: (params.user_metadata as Record<string, unknown> | undefined) ?? {},
      });
      await createIdentity(tx, user.id, "email", emailClaims(user.id, email));
      if (params.app_metadata) {
        user = await updateAppMetadata(tx, user, params.app_metadata as Record<string, unknown>);
      }
      if (params.email_confirm) user = await confirmUser(tx, user);
      if (banMs !== undefined) user = await ban(tx, user, banMs);
      return user;
    });
  } catch (err) {
    if (err instanceof HttpError) throw err;
    console.error("Auth emulator: admin create user failed", err);
    throw new HttpError(500, "unexpected_failure", "Database error creating new user");
  }
  return Response.json(userJson(user, await listIdentities(ctx.sql, user.id)));
}

/**
 * `GET`, `PUT` and `DELETE /admin/users/{user_id}`: one user, read, updated or deleted.
 *
 * An update with `email` switches the address at once, keeping `email_confirmed_at`, and sets the email
 * identity's `email_verified` to `email_confirm` (false when absent); a password ends every session.
 * A delete is hard unless `should_soft_delete`, which keeps an obfuscated row.
 *
 * @param ctx The emulator's database and keys.
 * @param req The request, with a `service_role` bearer token.
 * @param url The request's URL, ending in the user's id.
 * @returns The user (`{}` for a delete).
 * @throws {HttpError} As {@linkcode requireAdmin}; 404 `validation_failed` for an id that is not a UUID,
 *   `user_not_found`; 400 `validation_failed`, `bad_json`; 422 `weak_password`; 500 when the update fails
 *   (an address another user holds, as in GoTrue).
 * @example
 * ```ts ignore
 * const patterns = [[/^\/admin\/users\/[^/]+$/, { GET: adminUser, PUT: adminUser, DELETE: adminUser }]];
 * ```
 */
export async function adminUser(ctx: AuthContext, req: Request, url: URL): Promise<Response> {
  await requireAdmin(ctx, req);
  const user = await loadUser(ctx, url);
  if (req.method === "GET") {
    return Response.json(await withFactors(ctx.sql, userJson(user, await listIdentities(ctx.sql, user.id))));
  }
  if (req.method === "DELETE") return await deleteUser(ctx, req, user);
  return await updateUser(ctx, req, user);
}

/**
 * GoTrue's admin `loadUser` middleware: the user whose id is in the path, answered before any route.
 *
 * @param ctx The emulator's database.
 * @param url The request's URL.
 * @param at Where the id is among the path's segments, counted from the end.
 * @returns The user, deleted or not.
 * @throws {HttpError} 404 `validation_failed` for an id that is not a UUID, `user_not_found`.
 */
export async function loadUser(ctx: AuthContext, url: URL, at = -1): Promise<UserRow> {
  const id = decodeURIComponent(url.pathname.split("/").at(at) ?? "");
  if (!UUID.test(id)) throw new HttpError(404, "validation_failed", "user_id must be an UUID");
  const user = await findUserById(ctx.sql, id);
  if (!user) throw new HttpError(404, "user_not_found", "User not found");
  return user;
}

async function updateUser(ctx: AuthContext, req: Request, found: UserRow): Promise<Response> {
  const params = await readParams(req, "AdminUserParams", ADMIN_USER_PARAMS);
  const email = params.email ? validateEmail(params.email as string) : "";
  if (params.phone) throw new HttpError(400, "validation_failed", "Phone users are not emulated");
  const banMs = banDuration(params.ban_duration as string | undefined);
  let passwordHash: string | undefined;
  if (params.password !== undefined) {
    const weak = checkPasswordStrength(params.password as string);
    if (weak) throw weak;
    passwordHash = params.password === "" ? "" : await hashPassword(params.password as string);
  }
  const emailConfirm = params.email_confirm === true;
  let user: UserRow;
  try {
    user = await ctx.sql.begin(async (tx) => {
      let user = found;
      if (params.role) {
        [user] = await tx<UserRow[]>`update auth.users set role = ${(params.role as string).trim()},
                                       updated_at = now() where id = ${user.id} returning *`;
      }
      if (emailConfirm) user = await confirmUser(tx, user);
      if (passwordHash !== undefined) user = await updatePassword(tx, user, passwordHash, undefined);
      if (email !== "") {
        const identity = await findIdentity(tx, user.id, "email");
        if (identity) await updateIdentityData(tx, identity, { email, email_verified: emailConfirm });
        else await createIdentity(tx, user.id, "email", emailClaims(user.id, email, emailConfirm));
        [user] = await tx<UserRow[]>`
          update auth.users set email = ${email},
                                is_anonymous = ${user.is_anonymous && !emailConfirm}, updated_at = now()
           where id = ${user.id} returning *`;
      }
      if (params.app_metadata) {
        user = await updateAppMetadata(tx, user, params.app_metadata as Record<string, unknown>);
      }
      if (params.user_metadata) {
        user = await updateUserMetadata(tx, user, params.user_metadata as Record<string, unknown>);
      }
      if (banMs !== undefined) user = await ban(tx, user, banMs);
      return user;
    });
  } catch (err) {
    console.error("Auth emulator: admin update user failed", err);
    throw new HttpError(500, "unexpected_failure", "Error updating user");
  }
  return Response.json(userJson(user, await listIdentities(ctx.sql, user.id)));
}

async function deleteUser(ctx: AuthContext, req: Request, user: UserRow): Promise<Response> {
  const body = await req.text();
  let soft = false;
  if (body !== "") {
    const params = await readParams(new Request(req.url, { method: "POST", body }), "adminUserDeleteParams", {
      should_soft_delete: "boolean",
    });
    soft = params.should_soft_delete === true;
  }
  await ctx.sql.begin(async (tx) => {
    if (!soft) {
      // Identities, sessions (and so their refresh tokens) and one-time tokens go with the row.
      await tx`delete from auth.users where id = ${user.id}`;
    } else if (!user.deleted_at) {
      await softDelete(tx, user);
    }
  });
  return Response.json({});
}

// GoTrue's SoftDeleteUser and SoftDeleteUserIdentities: the row stays, its addresses obfuscated, its
// metadata emptied and its sessions ended.
async function softDelete(tx: postgres.TransactionSql, user: UserRow): Promise<void> {
  const obfuscate = (value: string) => createHash("sha256").update(user.id + value).digest("base64url");
  await tx`
    update auth.users
       set email = ${obfuscate(user.email ?? "")}, phone = ${obfuscate(user.phone ?? "").slice(0, 15)},
           email_change = ${obfuscate(user.email_change ?? "")}, encrypted_password = null,
           confirmation_token = '', recovery_token = '', email_change_token_current = '',
           email_change_token_new = '', deleted_at = now(), raw_user_meta_data = '{}',
           raw_app_meta_data = '{}', updated_at = now()
     where id = ${user.id}`;
  await clearOneTimeTokens(tx, user.id);
  for (const identity of await listIdentities(tx, user.id)) {
    await tx`update auth.identities
                set identity_data = '{}',
                    provider_id = ${obfuscate(`${identity.provider}:${identity.provider_id}`)}
              where id = ${identity.id}`;
  }
  await tx`delete from auth.sessions where user_id = ${user.id}`;
}

async function adminPasswordHash(params: Record<string, unknown>): Promise<string> {
  const hash = params.password_hash as string | undefined;
  if (hash) {
    // GoTrue also takes Argon2 and Firebase scrypt hashes; the emulator knows bcrypt only.
    if (!BCRYPT_HASH.test(hash)) {
      throw new HttpError(500, "unexpected_failure", "Error creating user");
    }
    return hash;
  }
  const password = params.password as string | undefined;
  if (password) {
    if (new TextEncoder().encode(password).length > 72) {
      throw new HttpError(400, "validation_failed", "bcrypt: password length exceeds 72 bytes");
    }
    return await hashPassword(password);
  }
  // No password: GoTrue sets a random one nobody knows.
  const random = crypto.getRandomValues(new Uint8Array(48));
  return await hashPassword(btoa(String.fromCharCode(...random)));
}

function banDuration(text: string | undefined): number | undefined {
  if (!text) return undefined;
  if (text === "none") return 0;
  try {
    return parseGoDuration(text);
  } catch (err) {
    throw new HttpError(
      400,
      "validation_failed",
      `invalid format for ban duration: ${(err as Error).message}`,
    );
  }
}

async function ban(tx: Db, user: UserRow, ms: number): Promise<UserRow> {
  const until = ms === 0 ? null : new Date(Date.now() + ms);
  const [row] = await tx<UserRow[]>`
    update auth.users set banned_until = ${until}, updated_at = now() where id = ${user.id} returning *`;
  return row;
}

// GoTrue's sort(): `sort=created_at [asc|desc]`, newest first by default.
function sortOrder(url: URL): string {
  const values = url.searchParams.getAll("sort");
  if (values.length === 0) return "created_at desc";
  return values.map((value) => {
    const [field, dir] = value.split(/ (.*)/s);
    if (field !== "created_at") {
      throw new HttpError(400, "validation_failed", `Bad Sort Parameters: bad field for sort '${field}'`);
    }
    if (dir !== undefined && !["ASC", "DESC"].includes(dir.toUpperCase())) {
      throw new HttpError(
        400,
        "validation_failed",
        `Bad Sort Parameters: bad direction for sort '${dir}', only 'asc' and 'desc' allowed`,
      );
    }
    return `created_at ${dir?.toUpperCase() === "ASC" ? "asc" : "desc"}`;
  }).join(", ");
}

// GoTrue's addPaginationHeaders, with the path GoTrue sees behind the gateway.
function paginationHeaders(url: URL, page: number, perPage: number, count: number): Headers {
  const totalPages = Math.ceil(count / perPage);
  const query = Object.fromEntries(url.searchParams);
  const link = (p: number) => `</admin/users?${encodeValues({ ...query, page: String(p) })}>`;
  const parts = totalPages > page ? [`${link(page + 1)}; rel="next"`] : [];
  parts.push(`${link(totalPages)}; rel="last"`);
  return new Headers({ Link: parts.join(", "), "X-Total-Count": String(count) });
}
