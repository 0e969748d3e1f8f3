/**
 * Test support for the browser client: a fake clock with fake timers, and a recording fake of the
 * three supabase-js calls the client makes (`auth.getSession`, `auth.onAuthStateChange`,
 * `functions.invoke`). Errors are the real supabase-js classes, built the way functions-js builds them.
 *
 * @module
 */
import { FunctionsFetchError, FunctionsHttpError } from "@supabase/supabase-js";
import type { HttpMethod, InvokeResult, SessionLike, SupabaseLike, Timers } from "../../client/mod.ts";

/** A clock that moves only when told, with timers that fire when it passes them. */
export class FakeClock implements Timers {
  time = Date.UTC(2026, 10, 26, 12, 0, 0);
  #timers = new Map<number, { at: number; callback: () => void }>();
  #nextId = 1;

  /** The current time in milliseconds. */
  now = (): number => this.time;

  /** Records a timer. */
  setTimeout = (callback: () => void, ms: number): number => {
    const id = this.#nextId++;
    this.#timers.set(id, { at: this.time + ms, callback });
    return id;
  };

  /** Forgets a timer. */
  clearTimeout = (handle: unknown): void => {
    this.#timers.delete(handle as number);
  };

  /** Timers not yet fired. */
  get pending(): number {
    return this.#timers.size;
  }

  /** Moves the clock forward, firing due timers in order, then lets promises settle. */
  async advance(ms: number): Promise<void> {
    const until = this.time + ms;
    for (;;) {
      const due = [...this.#timers].filter(([, t]) => t.at <= until).sort((a, b) => a[1].at - b[1].at)[0];
      if (!due) break;
      this.#timers.delete(due[0]);
      this.time = Math.max(this.time, due[1].at);
      due[1].callback();
      await settle();
    }
    this.time = until;
    await settle();
  }
}

/** Lets pending promise reactions (several hops deep) run. */
export async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await Promise.resolve();
}

/** One recorded `functions.invoke` call, answered when the test says so (or by `autoReply`). */
export interface Invocation {
  /** The function's name, with the path and query that follow it (`tenants/acme/members`). */
  name: string;
  /** The HTTP method (`POST` unless one was given, as functions-js sends). */
  method: HttpMethod;
  /** The JSON body, when one was given. */
  body?: Record<string, unknown>;
  signal?: AbortSignal;
  /** The user whose session was current when the request was sent. */
  userId: string | null;
  reply(result: InvokeResult): void;
}

/** A success body of the contract for a user. */
export function successBody(
  userId: string,
  overrides: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    backend_token: `jwt-${userId}-${++tokenSerial}`,
    user_id: userId,
    tenant_id: "t-default",
    role: "user",
    email: `${userId}@example.com`,
    token_type: "Bearer",
    expires_in: 3600,
    expires_at: new Date(Date.now() + 3_600_000).toISOString(),
    ...overrides,
  };
}
let tokenSerial = 0;

/** A `FunctionsHttpError` as functions-js returns it for a non-2xx answer of the function. */
export function httpError(
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): InvokeResult {
  const response = new Response(typeof body === "string" ? body : JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json", ...headers },
  });
  return { data: null, error: new FunctionsHttpError(response) };
}

/** A recording fake of the supabase-js surface the client uses. */
export class FakeSupabase implements SupabaseLike {
  session: SessionLike | null;
  readonly invocations: Invocation[] = [];
  getSessionCalls = 0;
  /** Answers each invocation at once when set; otherwise the test calls `reply`. */
  autoReply: ((inv: Invocation) => InvokeResult) | null = (inv) => ({
    data: successBody(inv.userId!, inv.body?.tenant_id ? { tenant_id: inv.body.tenant_id } : {}),
    error: null,
  });
  /** When set, an aborted invocation is not answered for the test (the answer "arrives anyway"). */
  ignoreAbort = false;
  /** Overrides the session `getSession()` returns, when it returns something. */
  getSessionHook: (() => SessionLike | undefined) | null = null;
  #listeners = new Set<(event: string, session: SessionLike | null) => void>();

  constructor(userId: string | null = "user-a") {
    this.session = userId ? sessionOf(userId) : null;
  }

  /** Subscribers still listening. */
  get listenerCount(): number {
    return this.#listeners.size;
  }

  /** Changes the session and emits the event to subscribers, as supabase-js does. */
  emit(event: string, userId: string | null): void {
    this.session = userId ? sessionOf(userId) : null;
    for (const listener of [...this.#listeners]) listener(event, this.session);
  }

  auth = {
    getSession: () => {
      this.getSessionCalls++;
      const session = this.getSessionHook?.() ?? this.session;
      return Promise.resolve({ data: { session }, error: null });
    },
    onAuthStateChange: (callback: (event: string, session: SessionLike | null) => void) => {
      this.#listeners.add(callback);
      return { data: { subscription: { unsubscribe: () => void this.#listeners.delete(callback) } } };
    },
  };

  functions = {
    invoke: (
      name: string,
      options: { body?: Record<string, unknown>; method?: HttpMethod; signal?: AbortSignal },
    ) => {
      const { promise, resolve } = Promise.withResolvers<InvokeResult>();
      const invocation: Invocation = {
        name,
        method: options.method ?? "POST",
        body: options.body,
        signal: options.signal,
        userId: this.session?.user.id ?? null,
        reply: resolve,
      };
      options.signal?.addEventListener("abort", () => {
        if (this.ignoreAbort) return;
        // functions-js: the aborted fetch rejects, and invoke returns a FunctionsFetchError.
        resolve({ data: null, error: new FunctionsFetchError(options.signal!.reason) });
      });
      this.invocations.push(invocation);
      if (this.autoReply) resolve(this.autoReply(invocation));
      return promise;
    },
  };
}

function sessionOf(userId: string): SessionLike {
  return { user: { id: userId, email: `${userId}@example.com` } };
}
