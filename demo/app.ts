/// <reference no-default-lib="true" />
/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
/// <reference lib="esnext" />
/**
 * The demo page's app: sign up (pointing at the local mailbox for the confirmation) or in with supabase-js,
 * exchange the session for the backend token with {@linkcode createBackendSession}, show the token's claims
 * and expiry, switch between one's tenants by name, see a tenant's members a page at a time and (as an owner
 * or admin) change their roles among those the operator allows, remove them, invite people by email, see and
 * revoke pending invitations, accept one's own invitations, set a password after following an invite mail,
 * call the example Python backend's `GET /me` through `backend.fetch` and show its answer, sign out.
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
  type AuditEntry,
  BackendSessionError,
  type BackendToken,
  createBackendSession,
  createTenantClient,
  type Invitation,
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
  /** The local mailbox's page, when there is one. */
  mailboxUrl?: string;
}

/** Roles that manage a tenant (docs/tenants.md); every other role is read-only there. */
const MANAGERS: ReadonlySet<string> = new Set(["owner", "admin"]);

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
const NO_INVITATIONS: Page<Invitation> = { items: [], nextAfter: null };
/** Where the member list goes on from (the last page's `nextAfter`), null once it is all shown. */
let moreMembersAfter: string | null = null;
/** The same for the tenant's pending invitations. */
let moreInvitationsAfter: string | null = null;
/** The names of the user's tenants by `tenantId`, from the last read of them. */
let tenantNames = new Map<string, string>();
/** The roles the user may give in the token's tenant (`grantableRoles`); empty for a non-manager. */
let grantable: string[] = [];
byId("backend").hidden = !config.backendUrl;
byId("backend-url").textContent = config.backendUrl ?? "";
byId("invited-note").hidden = !arrivedByInvite;
// Only an invitee who came through the mail's link has no password yet; everyone else signed in with one.
passwordForm.hidden = !arrivedByInvite;

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
  if (user) byId("mailbox-note").hidden = true;
  if (!user) {
    shownUser = null;
    passwordForm.hidden = true;
    showBackendAnswer(null, "");
    renderSwitcher([]);
    renderInvitations([]);
    renderMembers(null, NO_MEMBERS);
    renderSentInvitations(null, NO_INVITATIONS);
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
    if (data.session) return "Signed up and signed in. Exchange the session for a backend token.";
    showMailboxNote(email.value);
    return "Signed up. Confirm the email address, then sign in.";
  });
});

byId("exchange").addEventListener("click", () => {
  run("Exchanging…", async () => {
    await backend.getToken();
    await refreshView();
    return describeWork("Exchanged");
  });
});

byId("fresh-token").addEventListener("click", () => {
  run("Exchanging again…", async () => {
    backend.clear();
    await backend.getToken();
    await refreshView();
    return describeWork("Exchanged again (your role as it is now)");
  });
});

tenantForm.addEventListener("submit", (event) => {
  event.preventDefault();
  const tenant = switcher.value;
  run(`Exchanging for ${tenant ? nameOf(tenant) : "your default tenant"}…`, async () => {
    backend.selectTenant(tenant === "" ? null : tenant);
    await backend.getToken();
    await refreshView();
    return describeWork("Exchanged");
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
    passwordForm.hidden = true;
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
    await refreshView();
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
    return `${plural(page.items.length, "more member")}.`;
  });
});

byId("more-sent-invitations").addEventListener("click", () => {
  const token = backend.current;
  if (!token || moreInvitationsAfter === null) return;
  run("Reading more invitations…", async () => {
    const page = await tenants.invitations(token.tenantId, { after: moreInvitationsAfter! });
    renderSentInvitations(token, page, { append: true });
    return `${plural(page.items.length, "more invitation")}.`;
  });
});

byId("show-audit").addEventListener("click", () => {
  const tenant = backend.current?.tenantId;
  if (!tenant) return;
  run("Reading the audit trail…", async () => {
    const { entries } = await tenants.audit(tenant);
    byId("audit").replaceChildren(...entries.map(auditItem));
    return `${plural(entries.length, "audit entry", "audit entries")}, newest first.`;
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
 * of the token's tenant (a company's may be thousands: "More members" reads on); for a manager also the
 * roles they may give there and the first page of its pending invitations; and shows them.
 *
 * @returns How many tenants and invitations there are.
 */
async function refreshView(): Promise<{ tenants: number; invitations: number }> {
  const [mine, pending] = await Promise.all([
    everyItem((page) => tenants.listTenants(page)),
    everyItem((page) => tenants.pendingInvitations(page)),
  ]);
  tenantNames = new Map(mine.map((t) => [t.tenantId, t.name]));
  renderSwitcher(mine);
  renderInvitations(pending);
  const token = backend.current;
  const manager = token !== null && MANAGERS.has(token.role);
  const [members, roles, sent] = await Promise.all([
    token ? tenants.members(token.tenantId) : NO_MEMBERS,
    manager ? unlessDemoted(tenants.grantableRoles(token.tenantId), []) : [],
    manager ? unlessDemoted(tenants.invitations(token.tenantId), NO_INVITATIONS) : NO_INVITATIONS,
  ]);
  grantable = roles.map((r) => r.role);
  byId<HTMLSelectElement>("invite-role").replaceChildren(
    ...grantable.map((r) => new Option(r, r, false, r === "user")),
  );
  renderMembers(token, members);
  renderSentInvitations(manager ? token : null, sent);
  return { tenants: mine.length, invitations: pending.length };
}

/**
 * A manager's read, or `fallback` when it is refused: the role in the cached token may have been taken
 * away since (until "Exchange again"), and the members are still the user's to see.
 */
async function unlessDemoted<T>(read: Promise<T>, fallback: T): Promise<T> {
  try {
    return await read;
  } catch (err) {
    if (err instanceof BackendSessionError && err.code === "forbidden") return fallback;
    throw err;
  }
}

/** `done`, then where the backend token says the user works, by the tenant's name. */
function describeWork(done: string): string {
  const token = backend.current;
  return token ? `${done}: you work in ${nameOf(token.tenantId)} as ${token.role}.` : `${done}.`;
}

/** A tenant's name as the user's tenants list has it, else its id. */
function nameOf(tenantId: string): string {
  return tenantNames.get(tenantId) ?? tenantId;
}

/** "1 member", "2 members". */
function plural(count: number, one: string, many = `${one}s`): string {
  return `${count} ${count === 1 ? one : many}`;
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

/** What the page knows now. Before the first exchange a user may have no tenant yet: that is not news. */
function describeView(counts: { tenants: number; invitations: number }): string {
  const waiting = counts.invitations === 0
    ? ""
    : ` ${plural(counts.invitations, "invitation")} ${
      counts.invitations === 1 ? "waits" : "wait"
    } for you below.`;
  if (counts.tenants === 0) {
    return `Signed in. Exchange for a backend token: your first exchange finds your tenant, or makes you one.${waiting}`;
  }
  return `You are in ${plural(counts.tenants, "tenant")}.${waiting}`;
}

/** After a sign-up without a session: where the confirmation mail is, locally. */
function showMailboxNote(address: string): void {
  if (!config.mailboxUrl) return;
  byId<HTMLAnchorElement>("mailbox-link").href = config.mailboxUrl;
  byId("mailbox-address").textContent = address;
  byId("mailbox-note").hidden = false;
}

function renderSwitcher(mine: Tenant[]): void {
  const options = mine.map((t) => {
    const option = document.createElement("option");
    option.value = t.tenantId;
    option.textContent = `${t.name} (${t.role}${t.isDefault ? ", default" : ""})`;
    option.title = t.tenantId;
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
      `${inv.tenantName} invites you as ${inv.role}` +
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
  byId("members-tenant").textContent = token ? nameOf(token.tenantId) : "";
  byId("members-tenant").title = token?.tenantId ?? "";
  byId("my-role").textContent = token?.role ?? "";
  inviteForm.hidden = !manager;
  byId("audit-panel").hidden = !manager;
  if (!append) byId("audit").replaceChildren();
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
  // A manager changes the roles they may give (an admin: not an owner's, nor to owner).
  if (manager && !me && grantable.includes(m.role)) {
    const picker = document.createElement("select");
    picker.className = "role";
    picker.append(...grantable.map((r) => new Option(r, r, false, r === m.role)));
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
    const name = nameOf(token.tenantId);
    actions.append(button("Leave", "leave", () =>
      run(`Leaving ${name}…`, async () => {
        await tenants.leave(token.tenantId); // drops the token of this tenant
        await refreshView();
        return `You left ${name}.`;
      })));
  }
  const joined = document.createElement("td");
  joined.textContent = new Date(m.joinedAt).toLocaleDateString();
  const address = document.createElement("td");
  address.textContent = m.email ?? "(no email)";
  row.append(address, roleCell, joined, actions);
  return row;
}

/**
 * Shows a page of the tenant's pending invitations with a revoke button each (instead of those shown, or
 * after them with `append`), and "More invitations" while there are more; nothing for a non-manager.
 */
function renderSentInvitations(
  token: BackendToken | null,
  page: Page<Invitation>,
  { append = false } = {},
): void {
  moreInvitationsAfter = page.nextAfter;
  byId("more-sent-invitations").hidden = page.nextAfter === null;
  const items = page.items.map((inv) => {
    const item = document.createElement("li");
    item.dataset.email = inv.email;
    item.dataset.role = inv.role;
    item.append(
      `${inv.email} as ${inv.role}, from ${inv.invitedByEmail ?? "someone since deleted"}, until ` +
        `${new Date(inv.expiresAt).toLocaleDateString()} `,
      button("Revoke", "revoke", () =>
        run(`Revoking the invitation of ${inv.email}…`, async () => {
          await tenants.revokeInvitation(token!.tenantId, inv.id);
          await refreshView();
          return `The invitation of ${inv.email} is revoked: its link admits nobody.`;
        })),
    );
    return item;
  });
  const list = byId("sent-invitation-list");
  if (append) list.append(...items);
  else list.replaceChildren(...items);
  byId("sent-invitations").hidden = token === null || list.children.length === 0;
}

/** One entry of the audit trail: when, who, what, to whom, and what changed (`role admin → user`). */
function auditItem(e: AuditEntry): HTMLLIElement {
  const item = document.createElement("li");
  item.dataset.action = e.action;
  const change = describeChange(e.before, e.after);
  item.textContent = [
    new Date(e.at).toLocaleString(),
    e.actorEmail ?? "the operator",
    e.targetEmail ? `${e.action} ${e.targetEmail}` : e.action,
    ...(change ? [change] : []),
  ].join(" · ");
  return item;
}

/**
 * The fields that changed, `role admin → user`, or were set, `role admin`; the address is shown apart, and
 * an invitation's expiry is the pending list's business.
 */
function describeChange(before: unknown, after: unknown): string {
  const was = (before ?? {}) as Record<string, unknown>;
  const is = (after ?? {}) as Record<string, unknown>;
  const keys = [...new Set([...Object.keys(was), ...Object.keys(is)])].filter((key) =>
    key !== "email" && key !== "expires_at"
  );
  return keys.map((key) =>
    key in was && key in is ? `${key} ${was[key]} → ${is[key]}` : `${key} ${key in is ? is[key] : was[key]}`
  ).join(", ");
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
