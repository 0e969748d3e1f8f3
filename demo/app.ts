/// <reference no-default-lib="true" />
/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
/// <reference lib="esnext" />
/**
 * The demo page's app: sign up or in with supabase-js, exchange the session for the backend token with
 * {@linkcode createBackendSession}, show the token's claims and expiry, pick a tenant, call the example
 * Python backend's `GET /me` through `backend.fetch` and show its answer, sign out.
 *
 * Bundled for the browser by `dev/demo_server.ts`; the API URL and the publishable key come from the page's
 * `<script type="application/json" id="demo-config">`. Everything the page shows follows two
 * subscriptions: `supabase.auth.onAuthStateChange` (who is signed in) and `backend.onTokenChange` (the
 * current backend token); the buttons only start actions and report their errors.
 *
 * @module
 */
import { createClient } from "@supabase/supabase-js";
import { BackendSessionError, type BackendToken, createBackendSession } from "../client/mod.ts";

interface DemoConfig {
  apiUrl: string;
  publishableKey: string;
  /** The example backend (`deno task dev` starts it), when there is one. */
  backendUrl?: string;
}

const config = JSON.parse(byId("demo-config").textContent ?? "{}") as DemoConfig;
const supabase = createClient(config.apiUrl, config.publishableKey);
const backend = createBackendSession(supabase);

const signInForm = byId<HTMLFormElement>("sign-in-form");
const email = byId<HTMLInputElement>("email");
const password = byId<HTMLInputElement>("password");
const tenantForm = byId<HTMLFormElement>("tenant-form");
const tenantInput = byId<HTMLInputElement>("tenant-id");
const backendAnswer = byId("backend-answer");
byId("backend").hidden = !config.backendUrl;
byId("backend-url").textContent = config.backendUrl ?? "";

supabase.auth.onAuthStateChange((_event, session) => {
  // Only the DOM here: awaiting supabase-js inside its own callback can deadlock it.
  const user = session?.user ?? null;
  signInForm.hidden = user !== null;
  byId("session").hidden = user === null;
  byId("user-email").textContent = user?.email ?? "";
  document.body.dataset.user = user?.email ?? "";
  if (!user) {
    tenantInput.value = "";
    showBackendAnswer(null, "");
  }
  document.body.dataset.ready = "true"; // the first event (INITIAL_SESSION) says who is signed in
});

backend.onTokenChange(renderToken);

signInForm.addEventListener("submit", (event) => {
  event.preventDefault();
  run("Signing in…", async () => {
    const { error } = await supabase.auth.signInWithPassword({
      email: email.value,
      password: password.value,
    });
    if (error) throw error;
    return "Signed in. Exchange the session for a backend token.";
  });
});

byId("sign-up").addEventListener("click", () => {
  if (!signInForm.reportValidity()) return;
  run("Signing up…", async () => {
    const { data, error } = await supabase.auth.signUp({ email: email.value, password: password.value });
    if (error) throw error;
    return data.session
      ? "Signed up and signed in. Exchange the session for a backend token."
      : "Signed up. Confirm the email address, then sign in.";
  });
});

byId("exchange").addEventListener("click", () => {
  run("Exchanging…", async () => {
    await backend.getToken();
    return "Exchanged.";
  });
});

tenantForm.addEventListener("submit", (event) => {
  event.preventDefault();
  const tenant = tenantInput.value.trim();
  run(`Exchanging for tenant ${tenant || "(default)"}…`, async () => {
    backend.selectTenant(tenant === "" ? null : tenant);
    await backend.getToken();
    return "Exchanged.";
  });
});

byId("default-tenant").addEventListener("click", () => {
  tenantInput.value = "";
  tenantForm.requestSubmit();
});

byId("call-backend").addEventListener("click", () => {
  run("Calling the backend…", async () => {
    showBackendAnswer(null, "");
    // The helper exchanges first if it has no token, sends it, and exchanges again once on a 401.
    const res = await backend.fetch(`${config.backendUrl}/me`);
    showBackendAnswer(res.status, JSON.stringify(await res.json(), null, 2));
    if (!res.ok) throw new Error(`The backend answered ${res.status}`);
    return "The backend accepted the token.";
  });
});

byId("sign-out").addEventListener("click", () => {
  run("Signing out…", async () => {
    const { error } = await supabase.auth.signOut();
    if (error) throw error;
    return "Signed out.";
  });
});

/**
 * Runs one user action, showing progress, then its outcome or its error (with the client's code in
 * `#error[data-code]`); `body[data-busy]` tells scripts (and the browser test) when it is done.
 */
async function run(progress: string, action: () => Promise<string>): Promise<void> {
  const status = byId("status");
  const error = byId("error");
  document.body.dataset.busy = "true";
  status.textContent = progress;
  error.textContent = "";
  delete error.dataset.code;
  try {
    status.textContent = await action();
  } catch (err) {
    status.textContent = "";
    const code = err instanceof BackendSessionError
      ? err.code
      : (err as { code?: unknown }).code ?? (err as { name?: unknown }).name ?? "error";
    error.dataset.code = String(code);
    error.textContent = `${code}: ${err instanceof Error ? err.message : String(err)}`;
  } finally {
    document.body.dataset.busy = "false";
  }
}

/** Shows the backend's answer; `#backend-answer[data-status]` holds its HTTP status for scripts. */
function showBackendAnswer(status: number | null, text: string): void {
  backendAnswer.textContent = status === null ? text : `HTTP ${status}\n${text}`;
  if (status === null) delete backendAnswer.dataset.status;
  else backendAnswer.dataset.status = String(status);
}

function renderToken(token: BackendToken | null): void {
  byId("token").hidden = token === null;
  byId("claims").textContent = token ? JSON.stringify(decodeClaims(token.token), null, 2) : "";
  byId("raw-token").textContent = token?.token ?? "";
  byId("expiry").textContent = token
    ? `${new Date(token.expiresAt).toLocaleString()} (in ${describe(token.expiresAt - Date.now())})`
    : "";
  document.body.dataset.tenant = token?.tenantId ?? "";
}

/** The JWT's payload, unverified: the page only shows it; the Python API is the one that verifies it. */
function decodeClaims(jwt: string): unknown {
  const payload = jwt.split(".")[1].replaceAll("-", "+").replaceAll("_", "/");
  const bytes = Uint8Array.from(atob(payload), (c) => c.charCodeAt(0));
  return JSON.parse(new TextDecoder().decode(bytes));
}

function describe(ms: number): string {
  const minutes = Math.round(ms / 60_000);
  if (minutes < 120) return `${minutes} min`;
  const hours = Math.round(minutes / 60);
  return hours < 48 ? `${hours} h` : `${Math.round(hours / 24)} days`;
}

function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const element = document.getElementById(id);
  if (!element) throw new Error(`#${id} is missing from the page`);
  return element as T;
}
