/**
 * Mixed traffic through the local stack's gateway, for `deno task chaos` and `deno task bench --soak`: token
 * exchanges (ES256, and HS256 where asked), tenant reads and invitations, sent by a few clients in a loop,
 * each answer recorded with its timing. Also the users, the tenant and the operator's limits it needs, and
 * the counts in the database afterwards that tell whether anything was lost or duplicated.
 *
 * @module
 */
import postgres from "postgres";
import { SignJWT } from "jose";
import type { LocalStack } from "../dev/stack.ts";
import { createBenchUsers } from "./_users.ts";

/** The kinds of request the traffic mixes. */
export type RequestKind = "exchange" | "exchange_hs256" | "tenant_read" | "invitation";

/** One answer. */
export interface Sample {
  kind: RequestKind;
  /** When it was sent, in ms since the traffic started. */
  start: number;
  /** How long it took, in ms. */
  ms: number;
  /** The HTTP status; 0 when no answer came (a network error or the client's own bound). */
  status: number;
  /** The answer's `error` code, when it is not a 2xx. */
  error?: string;
  retryAfter: string | null;
  /** For an exchange: which of the users (an index into `userIds`). */
  user?: number;
  /** For an invitation: the address invited, and what the answer said of the mail. */
  email?: string;
  emailSent?: boolean;
}

/** What the traffic runs with (from {@linkcode prepareTraffic}). */
export interface TrafficSetup {
  apiUrl: string;
  /** Access tokens of users who exchange (ES256, or the stack's mode) and read their tenants. */
  tokens: string[];
  /** HS256 access tokens of the same users (the legacy secret), verified through Auth's `GET /user`. */
  hs256Tokens: string[];
  /** The owner's token and the tenant (external id) the invitations go to. */
  owner: { token: string; tenant: string };
  /** The users' ids, for the counts afterwards. */
  userIds: string[];
}

/** How many of each kind, in one cycle of a client's loop. */
export type TrafficMix = Partial<Record<RequestKind, number>>;

/** A client's own bound on one request: far past the function's deadlines, so that a hang shows as status 0. */
const CLIENT_BOUND_MS = 30_000;
/** The tenant the invitations go to. */
const TENANT = "traffic";

/**
 * Makes `count` users with sessions and tokens of both kinds, a tenant `traffic` with an owner, and raises the
 * operator's invitation limits (docs/tenants.md "Settings and limits") so that the traffic meets none.
 *
 * @param stack The running stack.
 * @param count How many users exchange.
 * @returns What {@linkcode startTraffic} needs.
 */
export async function prepareTraffic(stack: LocalStack, count: number): Promise<TrafficSetup> {
  const admin = postgres(stack.postgres.url, { max: 1, onnotice: () => {} });
  try {
    const users = await createBenchUsers(admin, stack.auth, count + 1);
    const secret = new TextEncoder().encode(stack.jwtSecret);
    const hs256Tokens = await Promise.all(
      users.map((user) =>
        new SignJWT(user.claims).setProtectedHeader({ alg: "HS256", typ: "JWT" }).sign(secret)
      ),
    );
    const owner = users.pop()!;
    hs256Tokens.pop();
    await admin.begin(async (tx) => {
      const [tenant] = await tx`insert into tenancy.tenants (name, external_id) values ('Traffic', ${TENANT})
                                returning id`;
      await tx`insert into tenancy.memberships (tenant_id, user_id, role) values (${tenant.id}, ${owner.id}, 'owner')`;
      await tx`update tenancy.management_settings
                  set max_pending_invitations_per_tenant = 10000000, max_invitations_per_manager_per_hour = 10000000`;
    });
    return {
      apiUrl: stack.apiUrl,
      tokens: users.map((user) => user.token),
      hs256Tokens,
      owner: { token: owner.token, tenant: TENANT },
      userIds: users.map((user) => user.id),
    };
  } finally {
    await admin.end();
  }
}

/** Running traffic. */
export interface Traffic {
  /** When it started (`performance.now()`): the samples' `start` counts from here. */
  started: number;
  /** Stops sending, and resolves once every request sent has its answer. */
  stop(): Promise<void>;
}

/**
 * Starts `concurrency` clients, each sending the mix's requests in turn, one at a time, until stopped.
 *
 * @param setup The users and the tenant.
 * @param options How many clients, the mix, and where each answer goes.
 * @returns The running traffic.
 */
export function startTraffic(
  setup: TrafficSetup,
  options: { concurrency: number; mix: () => TrafficMix; onSample: (sample: Sample) => void },
): Traffic {
  const started = performance.now();
  let running = true;
  let sent = 0;
  const client = async () => {
    while (running) {
      for (const [kind, count] of Object.entries(options.mix()) as Array<[RequestKind, number]>) {
        for (let i = 0; i < count && running; i++) {
          const n = sent++;
          const t0 = performance.now();
          const sample = await send(setup, kind, n);
          options.onSample({ ...sample, kind, start: t0 - started, ms: performance.now() - t0 });
        }
      }
    }
  };
  const clients = Array.from({ length: options.concurrency }, client);
  return {
    started,
    async stop() {
      running = false;
      await Promise.all(clients);
    },
  };
}

/** Sends request number `n` of a kind and reads its answer. */
async function send(
  setup: TrafficSetup,
  kind: RequestKind,
  n: number,
): Promise<Omit<Sample, "kind" | "start" | "ms">> {
  let url = `${setup.apiUrl}/functions/v1/exchange-token`;
  let token = setup.tokens[n % setup.tokens.length];
  let method = "POST";
  let body: string | undefined = "{}";
  let email: string | undefined;
  const user = kind.startsWith("exchange") ? n % setup.tokens.length : undefined;
  if (kind === "exchange_hs256") token = setup.hs256Tokens[n % setup.hs256Tokens.length];
  if (kind === "tenant_read") {
    [url, method, body] = [`${setup.apiUrl}/functions/v1/tenants`, "GET", undefined];
  }
  if (kind === "invitation") {
    email = `invitee-${crypto.randomUUID()}@example.org`;
    url = `${setup.apiUrl}/functions/v1/tenants/${setup.owner.tenant}/invitations`;
    token = setup.owner.token;
    body = JSON.stringify({ email });
  }
  try {
    const res = await fetch(url, {
      method,
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body,
      signal: AbortSignal.timeout(CLIENT_BOUND_MS),
    });
    const text = await res.text();
    let json: Record<string, unknown> = {};
    try {
      json = JSON.parse(text);
    } catch {
      // Not JSON (a gateway's or a crash's answer): the status says enough.
    }
    return {
      status: res.status,
      error: res.ok ? undefined : String(json.error ?? json.message ?? text.slice(0, 80)),
      retryAfter: res.headers.get("retry-after"),
      email,
      user,
      emailSent: typeof json.email_sent === "boolean" ? json.email_sent : undefined,
    };
  } catch (err) {
    return { status: 0, error: err instanceof Error ? err.name : String(err), retryAfter: null, email, user };
  }
}

/** What the database holds after the traffic, against what the answers promised. */
export interface LedgerCounts {
  /** Invitations answered 201. */
  invitationsAnswered: number;
  /** Of those, how many the database lacks (lost). */
  invitationsLost: number;
  /** Addresses with more than one invitation in the tenant (duplicated). */
  invitationsDuplicated: number;
  /** Invitations in the database whose request was not answered 201 (e.g. a 503 after the commit). */
  invitationsUnanswered: number;
  /** Invitations without exactly one `invitation.created` audit entry. */
  auditMismatch: number;
  /** Users with a 200 exchange but no membership (lost), and with more than one (duplicated). */
  membershipsLost: number;
  membershipsDuplicated: number;
}

/**
 * Counts in the database what the answers promised: each invitation answered 201 is there once, with its
 * audit entry; each user with a 200 exchange has exactly one membership.
 *
 * @param stack The stack (its superuser connection is used).
 * @param setup The traffic's users and tenant.
 * @param samples Every answer.
 * @returns The counts; all but `invitationsAnswered` should be 0.
 */
export async function countLedger(
  stack: LocalStack,
  setup: TrafficSetup,
  samples: Sample[],
): Promise<LedgerCounts> {
  const admin = postgres(stack.postgres.url, { max: 1, onnotice: () => {} });
  try {
    const answered = samples.filter((s) => s.kind === "invitation" && s.status === 201).map((s) => s.email!);
    const sentAll = samples.filter((s) => s.kind === "invitation").map((s) => s.email!);
    const rows = await admin<{ email: string; n: number; audited: number }[]>`
      select i.email, count(*)::int as n,
             sum((select count(*) from tenancy.audit_log a
                   where a.invitation_id = i.id and a.action = 'invitation.created'))::int as audited
        from tenancy.invitations i join tenancy.tenants t on t.id = i.tenant_id
       where t.external_id = ${setup.owner.tenant} and i.email = any(${sentAll})
       group by i.email`;
    const inDb = new Map(rows.map((row) => [row.email, row]));
    const answeredSet = new Set(answered);
    const exchanged = new Set(
      samples.filter((s) => s.user !== undefined && s.status === 200).map((s) => setup.userIds[s.user!]),
    );
    const memberships = await admin<{ user_id: string; n: number }[]>`
      select u.id::text as user_id, count(m.user_id)::int as n
        from unnest(${setup.userIds}::uuid[]) as u(id) left join tenancy.memberships m on m.user_id = u.id
       group by u.id`;
    return {
      invitationsAnswered: answered.length,
      invitationsLost: answered.filter((email) => !inDb.has(email)).length,
      invitationsDuplicated: rows.filter((row) => row.n > 1).length,
      invitationsUnanswered: rows.filter((row) => !answeredSet.has(row.email)).length,
      auditMismatch: rows.filter((row) => row.audited !== row.n).length,
      membershipsLost: memberships.filter((row) => exchanged.has(row.user_id) && row.n === 0).length,
      membershipsDuplicated: memberships.filter((row) => row.n > 1).length,
    };
  } finally {
    await admin.end();
  }
}
