/**
 * The benchmark's users: each with a live session, as Supabase Auth writes them, and an access token whose
 * claims are the full set Auth issues, so verification handles a real-sized token.
 *
 * @module
 */
import type postgres from "postgres";
import { createUser } from "../tests/_users.ts";

/** A user the benchmark exchanges tokens for. */
export interface BenchUser {
  id: string;
  email: string;
  /** The access token's claims. */
  claims: Record<string, unknown>;
  /** The signed access token. */
  token: string;
}

/**
 * Creates `count` users with sessions, and signs an access token for each.
 *
 * @param admin A superuser connection to the stack's database.
 * @param auth The Auth emulator's issuer and signer.
 * @param count How many.
 * @returns The users.
 */
export async function createBenchUsers(
  admin: postgres.Sql,
  auth: { issuer: string; signAccessToken(claims: Record<string, unknown>): Promise<string> },
  count: number,
): Promise<BenchUser[]> {
  const users = [];
  for (let i = 0; i < count; i++) {
    const user = await createUser(admin);
    const now = Math.floor(Date.now() / 1000);
    const claims = {
      ...user.claims,
      iss: auth.issuer,
      iat: now,
      phone: "",
      app_metadata: { provider: "email", providers: ["email"] },
      user_metadata: {},
      aal: "aal1",
      amr: [{ method: "password", timestamp: now }],
    };
    users.push({ id: user.id, email: user.email, claims, token: await auth.signAccessToken(claims) });
  }
  return users;
}

/**
 * The request of one JSON exchange with a bearer token.
 *
 * @param token The access token.
 * @returns The request.
 */
export function exchangeRequest(token: string): Request {
  return new Request("http://127.0.0.1/exchange-token", {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: "{}",
  });
}
