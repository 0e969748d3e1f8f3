/// <reference no-default-lib="true" />
/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
/// <reference lib="esnext" />
/**
 * The demo page's app: sign up or in with supabase-js, exchange the session for the backend token with
 * {@linkcode createBackendSession}, show the token's claims and expiry, switch between one's tenants, see a
 * tenant's members and (as an owner or admin) change their roles, remove them and invite people by email,
 * accept one's own invitations, set a password after following an invite mail, call the example Python
 * backend's `GET /me` through `backend.fetch` and show its answer, sign out.
 *
 * Bundled for the browser by `demo/server.ts`; the API URL and the publishable key come from the page's
 * `<script type="application/json" id="demo-config">`. Who is signed in follows
 * `supabase.auth.onAuthStateChange` and the token follows `backend.onTokenChange`; the tenants, invitations
 * and members are read again after every action that may change them ({@linkcode createTenantClient}).
 *
 * @module
 */
import { createClient } from "@supabase/supabase-js";
import {
  BackendSessionError,
  type BackendToken,
  createBackendSession,
  createTenantClient,
  type Member,
  type Page,
  type PageOptions,
  type PendingInvitation,
  type Tenant,
} from "../client/mod.ts";

interface DemoConfig {
  apiUrl: string;
  publishableKey: string;
  /** The example backend (`deno task dev` starts it), when there is one. */
  backendUrl?: string;
}

/** Roles that manage a tenant (docs/tenants.md); every other role is read-only there. */
const MANAGERS: ReadonlySet<string> = new Set(["owner", "admin"]);
const ROLES = ["user", "admin", "owner"];

// Read before supabase-js takes the session out of the URL's fragment: an invite mail's link lands here
// with `type=invite`, signed in but with no password yet.
const arrivedByInvite = new URLSearchParams(location.hash.slice(1)).get("type") === "invite";

const config = JSON.parse(byId("demo-config").textContent ?? "{}") as DemoConfig;
const supabase = createClient(config.apiUrl, config.publishableKey);
const backend = createBackendSession(supabase);
const tenants = createTenantClient(supabase, { session: backend });

const signInForm = byId<HTMLFormElement>("sign-in-form");
const email = byId<HTMLInputElement>("email");
const password = byId<HTMLInputElement>("password");
const tenantForm = byId<HTMLFormElement>("tenant-form");
const switcher = byId<HTMLSelectElement>("tenant-switcher");
const passwordForm = byId<HTMLFormElement>("password-form");
const inviteForm = byId<HTMLFormElement>("invite-form");
const backendAnswer = byId("backend-answer");
const NO_MEMBERS: Page<Member> = { items: [], nextAfter: null };
/** Where the member list goes on from (the last page's `nextAfter`), null once it is all shown. */
let moreMembersAfter: string | null = null;
byId("backend").hidden = !config.backendUrl;
byId("backend-url").textContent = config.backendUrl ?? "";
byId("invited-note").hidden = !arrivedByInvite;

/** Actions under way (`run`). */
let running = 0;
/** The user whose tenants the page shows, so that a token refresh does not reload them. */
let shownUser: string | null = null;

supabase.auth.onAuthStateChange((_event, session) => {
  // Only the DOM here: awaiting supabase-js inside its own callback can deadlock it, so the user's
  // tenants are read in the next task.
  const user = session?.user ?? null;
  signInForm.hidden = user !== null;
  byId("session").hidden = user === null;
  byId("user-email").textContent = user?.email ?? "";
  document.body.dataset.user = user?.email ?? "";
  if (!user) {
    shownUser = null;
    showBackendAnswer(null, "");
    renderSwitcher([]);
    renderInvitations([]);
    renderMembers(null, NO_MEMBERS);
  } else if (user.id !== shownUser) {
    shownUser = user.id;
    runSoon("Reading your tenants…", async () => describeView(await refreshView()));
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
    const { data, error } = await supabase.auth.signUp({
      email: email.value,
      password: password.value,
      // The confirmation mail's link comes back here, signed in (Auth must allow the URL).
      options: { emailRedirectTo: `${location.origin}${location.pathname}` },
    });
    if (error) throw error;
    return data.session
      ? "Signed up and signed in. Exchange the session for a backend token."
      : "Signed up. Confirm the email address, then sign in.";
  });
});

byId("exchange").addEventListener("click", () => {
  run("Exchanging…", async () => {
    await backend.getToken();
    await refreshView();
    return "Exchanged.";
  });
});

byId("fresh-token").addEventListener("click", () => {
  run("Exchanging again…", async () => {
    backend.clear();
    await backend.getToken();
    await refreshView();
    return "Exchanged again: the token carries your role as it is now.";
  });
});

tenantForm.addEventListener("submit", (event) => {
  event.preventDefault();
  const tenant = switcher.value;
  run(`Exchanging for tenant ${tenant || "(default)"}…`, async () => {
    backend.selectTenant(tenant === "" ? null : tenant);
    await backend.getToken();
    await refreshView();
    return "Exchanged.";
  });
});

byId("refresh-tenants").addEventListener("click", () => {
  run("Reading your tenants…", async () => describeView(await refreshView()));
});

passwordForm.addEventListener("submit", (event) => {
  event.preventDefault();
  const input = byId<HTMLInputElement>("new-password");
  run("Setting the password…", async () => {
    const { error } = await supabase.auth.updateUser({ password: input.value });
    if (error) throw error;
    input.value = "";
    byId("invited-note").hidden = true;
    return "Password set: sign in with it next time.";
  });
});

inviteForm.addEventListener("submit", (event) => {
  event.preventDefault();
  const tenant = backend.current?.tenantId;
  const address = byId<HTMLInputElement>("invite-email").value.trim();
  const role = byId<HTMLSelectElement>("invite-role").value;
  if (!tenant) return;
  run(`Inviting ${address}…`, async () => {
    const { invitation, emailSent } = await tenants.invite(tenant, address, role);
    byId<HTMLInputElement>("invite-email").value = "";
    return `Invited ${invitation.email} as ${invitation.role}: ` +
      (emailSent ? "the mail is on its way." : "no mail could be sent, tell them yourself.");
  });
});

byId("more-members").addEventListener("click", () => {
  const token = backend.current;
  if (!token || moreMembersAfter === null) return;
  run("Reading more members…", async () => {
    const page = await tenants.members(token.tenantId, { after: moreMembersAfter! });
    renderMembers(token, page, { append: true });
    return `${page.items.length} more member(s).`;
  });
});

byId("show-audit").addEventListener("click", () => {
  const tenant = backend.current?.tenantId;
  if (!tenant) return;
  run("Reading the audit trail…", async () => {
    const { entries } = await tenants.audit(tenant);
    byId("audit").textContent = entries.map((e) =>
      [e.at, e.actorEmail ?? "(operator)", e.action, e.targetEmail ?? "", describeChange(e.before, e.after)]
        .filter((part) => part !== "").join("  ")
    ).join("\n");
    return `${entries.length} audit entries, newest first.`;
  });
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
 * Reads the user's tenants and invitations (every page: a user has few), and the first page of the members
 * of the token's tenant (a company's may be thousands: "More members" reads on), and shows them.
 *
 * @returns How many tenants and invitations there are.
 */
async function refreshView(): Promise<{ tenants: number; invitations: number }> {
  const [mine, pending] = await Promise.all([
    everyItem((page) => tenants.listTenants(page)),
    everyItem((page) => tenants.pendingInvitations(page)),
  ]);
  renderSwitcher(mine);
  renderInvitations(pending);
  const token = backend.current;
  renderMembers(token, token ? await tenants.members(token.tenantId) : NO_MEMBERS);
  return { tenants: mine.length, invitations: pending.length };
}

/** The items of every page of a list, following `nextAfter` from the first page. */
async function everyItem<T>(read: (page: PageOptions) => Promise<Page<T>>): Promise<T[]> {
  const items: T[] = [];
  let after: string | null = null;
  do {
    const page: Page<T> = await read({ limit: 100, ...(after === null ? {} : { after }) });
    items.push(...page.items);
    after = page.nextAfter;
  } while (after !== null);
  return items;
}

function describeView(counts: { tenants: number; invitations: number }): string {
  return `You are in ${counts.tenants} tenant(s), with ${counts.invitations} invitation(s) waiting.`;
}

function renderSwitcher(mine: Tenant[]): void {
  const options = mine.map((t) => {
    const option = document.createElement("option");
    option.value = t.tenantId;
    option.textContent = `${t.name} (${t.role}${t.isDefault ? ", default" : ""}): ${t.tenantId}`;
    return option;
  });
  switcher.replaceChildren(switcher.options[0], ...options);
  switcher.value = backend.tenantId ?? "";
}

function renderInvitations(pending: PendingInvitation[]): void {
  byId("invitations").hidden = pending.length === 0;
  byId("invitation-list").replaceChildren(...pending.map((inv) => {
    const item = document.createElement("li");
    item.dataset.id = inv.id;
    item.dataset.tenant = inv.tenantId;
    item.append(
      `${inv.tenantName} (${inv.tenantId}) invites you as ${inv.role}` +
        `${inv.invitedByEmail ? `, from ${inv.invitedByEmail}` : ""}, until ` +
        `${new Date(inv.expiresAt).toLocaleString()} `,
      button("Accept", "accept", () =>
        run("Accepting…", async () => {
          const joined = await tenants.accept(inv.id);
          await refreshView();
          return `You joined ${joined.name} as ${joined.role}: pick it above to work there.`;
        })),
      button("Decline", "decline", () =>
        run("Declining…", async () => {
          await tenants.decline(inv.id);
          await refreshView();
          return `You declined the invitation to ${inv.tenantName}.`;
        })),
    );
    return item;
  }));
}

/**
 * Shows a page of a tenant's members (instead of those shown, or after them with `append`), and "More
 * members" while there are more.
 */
function renderMembers(token: BackendToken | null, page: Page<Member>, { append = false } = {}): void {
  const manager = token !== null && MANAGERS.has(token.role);
  byId("members").hidden = token === null;
  byId("members-tenant").textContent = token?.tenantId ?? "";
  byId("my-role").textContent = token?.role ?? "";
  inviteForm.hidden = !manager;
  byId("audit-panel").hidden = !manager;
  if (!append) byId("audit").textContent = "";
  moreMembersAfter = page.nextAfter;
  byId("more-members").hidden = page.nextAfter === null;
  const rows = page.items.map((m) => memberRow(token, m));
  if (append) byId("member-list").append(...rows);
  else byId("member-list").replaceChildren(...rows);
}

/** A member's row; managers get a role picker and a remove button, the caller a leave button. */
function memberRow(token: BackendToken | null, m: Member): HTMLTableRowElement {
  const manager = token !== null && MANAGERS.has(token.role);
  const row = document.createElement("tr");
  row.dataset.email = m.email ?? "";
  row.dataset.role = m.role;
  const me = m.userId === token?.userId;
  const actions = document.createElement("td");
  const roleCell = document.createElement("td");
  if (manager && !me) {
    const picker = document.createElement("select");
    picker.className = "role";
    picker.append(
      ...[...new Set([...ROLES, m.role])].map((r) => new Option(r, r, false, r === m.role)),
    );
    roleCell.append(picker);
    actions.append(
      button("Change role", "save-role", () =>
        run(`Changing ${m.email}'s role…`, async () => {
          const changed = await tenants.setRole(token.tenantId, m.userId, picker.value);
          await refreshView();
          return `${changed.email} is now ${changed.role}.`;
        })),
      button("Remove", "remove", () =>
        run(`Removing ${m.email}…`, async () => {
          await tenants.remove(token.tenantId, m.userId);
          await refreshView();
          return `${m.email} was removed.`;
        })),
    );
  } else {
    roleCell.textContent = m.role;
  }
  if (me) {
    actions.append(button("Leave", "leave", () =>
      run(`Leaving ${token.tenantId}…`, async () => {
        await tenants.leave(token.tenantId); // drops the token of this tenant
        await refreshView();
        return `You left ${token.tenantId}.`;
      })));
  }
  const joined = document.createElement("td");
  joined.textContent = new Date(m.joinedAt).toLocaleDateString();
  const address = document.createElement("td");
  address.textContent = m.email ?? "(no email)";
  row.append(address, roleCell, joined, actions);
  return row;
}

function describeChange(before: unknown, after: unknown): string {
  if (before === null && after === null) return "";
  return `${before === null ? "" : JSON.stringify(before)} → ${after === null ? "" : JSON.stringify(after)}`;
}

function button(label: string, className: string, onClick: () => void): HTMLButtonElement {
  const element = document.createElement("button");
  element.type = "button";
  element.className = className;
  element.textContent = label;
  element.addEventListener("click", onClick);
  return element;
}

/**
 * Runs one user action, showing progress, then its outcome or its error (with the client's code in
 * `#error[data-code]`); `body[data-busy]` is `true` while any action runs, so scripts (and the browser
 * tests) can tell when the page has settled.
 */
async function run(progress: string, action: () => Promise<string>): Promise<void> {
  const status = byId("status");
  const error = byId("error");
  running++;
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
    running--;
    document.body.dataset.busy = String(running > 0);
  }
}
/**
 * Runs an action in the next task (out of supabase-js's callback), counting it as running from now, so
 * that `body[data-busy]` does not flicker to `false` between the action that signed in and this one.
 */
function runSoon(progress: string, action: () => Promise<string>): void {
  running++;
  document.body.dataset.busy = "true";
  setTimeout(() => {
    running--;
    run(progress, action);
  });
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
  // The members shown are the token's tenant's; without a token they may no longer be the user's to see.
  if (!token) renderMembers(null, NO_MEMBERS);
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
