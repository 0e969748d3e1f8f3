/**
 * The local mailbox over real sockets: mail sent with the SMTP client the Auth emulator uses, read back
 * through Mailpit's API and the web page, and the ways sending can fail.
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  DEFAULT_SENDER,
  type Mailbox,
  type Message,
  type MessagesSummary,
  sendMail,
  SmtpError,
  startMailbox,
} from "../../dev/mailbox/mod.ts";
import { startSmtpServer } from "../../dev/mailbox/_smtp_server.ts";

const LINK = "http://127.0.0.1:54321/auth/v1/verify?token=pkce_0123&type=signup&redirect_to=http://app.test/";

function confirmation(to: string, subject = "Confirm Your Signup") {
  return {
    to,
    subject,
    html: `<h2>Confirm your signup</h2><p>Follow this link to confirm your user:</p>` +
      `<p><a href="${LINK.replaceAll("&", "&amp;")}">Confirm your mail</a></p>`,
  };
}

async function withMailbox(
  options: Parameters<typeof startMailbox>[0],
  fn: (mailbox: Mailbox) => Promise<void>,
) {
  const mailbox = await startMailbox(options);
  try {
    await fn(mailbox);
  } finally {
    await mailbox.stop();
  }
}

async function getJson<T>(url: string): Promise<T> {
  const res = await fetch(url);
  assert.equal(res.status, 200, `${url} answered ${res.status}`);
  return await res.json();
}

Deno.test("the mailbox catches mail sent over SMTP and serves it as Mailpit does", async (t) => {
  await withMailbox({}, async (mailbox) => {
    const smtp = { ...mailbox.smtp, ...DEFAULT_SENDER, user: "ignored", pass: "ignored" };
    const reply = await sendMail(smtp, confirmation("first@example.com"));
    assert.match(reply, /^250 /);
    await sendMail(smtp, confirmation("Second User <second@example.com>", "Reset Your Password"));

    let list!: MessagesSummary;
    await t.step("GET /api/v1/messages lists them newest first, in Mailpit's shape", async () => {
      list = await getJson(`${mailbox.url}/api/v1/messages`);
      assert.equal(list.total, 2);
      assert.equal(list.count, 2);
      assert.equal(list.unread, 2);
      assert.equal(list.messages_count, 2);
      assert.equal(list.start, 0);
      assert.deepEqual(list.tags, []);
      const [newest, oldest] = list.messages;
      assert.equal(newest.Subject, "Reset Your Password");
      assert.deepEqual(newest.To, [{ Name: "Second User", Address: "second@example.com" }]);
      assert.equal(oldest.Subject, "Confirm Your Signup");
      assert.deepEqual(oldest.To, [{ Name: "", Address: "first@example.com" }]);
      assert.deepEqual(oldest.From, { Name: "Admin", Address: "admin@email.com" });
      assert.match(oldest.ID, /^[2-9A-HJ-NP-Za-km-z]{22}$/);
      assert.notEqual(oldest.ID, newest.ID);
      assert.ok(Date.parse(newest.Created) >= Date.parse(oldest.Created));
      assert.match(oldest.Created, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      assert.match(oldest.MessageID, /@email\.com$/);
      assert.equal(oldest.Read, false);
      assert.equal(oldest.Attachments, 0);
      assert.ok(oldest.Size > 200);
      assert.match(oldest.Snippet, /^Confirm your signup Follow this link/);
    });

    await t.step("start and limit page the list", async () => {
      const page: MessagesSummary = await getJson(`${mailbox.url}/api/v1/messages?start=1&limit=1`);
      assert.equal(page.total, 2);
      assert.equal(page.count, 1);
      assert.equal(page.start, 1);
      assert.equal(page.messages[0].Subject, "Confirm Your Signup");
    });

    await t.step("GET /api/v1/message/{ID} has the link in HTML and Text, and marks it read", async () => {
      const id = list.messages[1].ID;
      const message: Message = await getJson(`${mailbox.url}/api/v1/message/${id}`);
      assert.equal(message.ID, id);
      assert.equal(message.Subject, "Confirm Your Signup");
      assert.deepEqual(message.To, [{ Name: "", Address: "first@example.com" }]);
      assert.equal(message.ReturnPath, "admin@email.com");
      // The HTML as sent (entities and all), and a text version carrying the decoded link.
      assert.ok(message.HTML.includes(`href="${LINK.replaceAll("&", "&amp;")}"`), message.HTML);
      assert.ok(message.Text.includes(LINK), message.Text);
      assert.deepEqual(message.Attachments, []);
      const after: MessagesSummary = await getJson(`${mailbox.url}/api/v1/messages`);
      assert.equal(after.unread, 1);
      assert.equal(after.messages[1].Read, true);
    });

    await t.step("`latest` is the newest message, and /raw is what was received", async () => {
      const latest: Message = await getJson(`${mailbox.url}/api/v1/message/latest`);
      assert.equal(latest.ID, list.messages[0].ID);
      const raw = await fetch(`${mailbox.url}/api/v1/message/${latest.ID}/raw`);
      assert.equal(raw.status, 200);
      assert.match(await raw.text(), /^Subject: Reset Your Password\r$/m);
    });

    await t.step("an unknown message is a JSON 404", async () => {
      const res = await fetch(`${mailbox.url}/api/v1/message/nope`);
      assert.equal(res.status, 404);
      assert.deepEqual(await res.json(), { Error: "Message not found" });
      const malformed = await fetch(`${mailbox.url}/api/v1/message/%E0%A4%A`);
      assert.equal(malformed.status, 404);
      await malformed.body?.cancel();
    });

    await t.step("GET /api/v1/search finds a recipient's mail", async () => {
      const found: MessagesSummary = await getJson(
        `${mailbox.url}/api/v1/search?query=${encodeURIComponent('to:"second@example.com"')}`,
      );
      assert.deepEqual(found.messages.map((m) => m.Subject), ["Reset Your Password"]);
      assert.equal(found.messages_count, 1);
      assert.equal(found.total, 2);
      const notFirst: MessagesSummary = await getJson(
        `${mailbox.url}/api/v1/search?query=${encodeURIComponent("-to:first@example.com confirm")}`,
      );
      assert.deepEqual(notFirst.messages.map((m) => m.Subject), ["Reset Your Password"]);
      const unsupported = await fetch(`${mailbox.url}/api/v1/search?query=tag:signup`);
      assert.equal(unsupported.status, 400);
      assert.match((await unsupported.json()).Error, /not supported.*tag:signup/);
    });

    await t.step("the web page lists the messages and shows one with its link clickable", async () => {
      const index = await fetch(`${mailbox.url}/`);
      assert.equal(index.status, 200);
      assert.match(index.headers.get("content-security-policy")!, /default-src 'none'/);
      const html = await index.text();
      assert.ok(html.includes(`<a href="/view/${list.messages[0].ID}">Reset Your Password</a>`), html);
      assert.ok(html.includes("first@example.com"));

      const view = await fetch(`${mailbox.url}/view/${list.messages[1].ID}`);
      assert.equal(view.status, 200);
      const page = await view.text();
      // The text part, with the link as an anchor …
      const escaped = LINK.replaceAll("&", "&amp;");
      assert.ok(page.includes(`<a href="${escaped}" target="_blank" rel="noreferrer">${escaped}</a>`), page);
      // … and the HTML part in a sandboxed frame, its links opening outside it.
      assert.match(
        page,
        /<iframe sandbox="allow-popups allow-popups-to-escape-sandbox" srcdoc="&lt;base target=/,
      );
      const missing = await fetch(`${mailbox.url}/view/nope`);
      assert.equal(missing.status, 404);
      await missing.body?.cancel();
    });

    await t.step("DELETE /api/v1/messages deletes the given IDs, then everything", async () => {
      const some = await fetch(`${mailbox.url}/api/v1/messages`, {
        method: "DELETE",
        body: JSON.stringify({ IDs: [list.messages[0].ID, "unknown"] }),
      });
      assert.equal(some.status, 200);
      assert.equal(await some.text(), "ok");
      const left: MessagesSummary = await getJson(`${mailbox.url}/api/v1/messages`);
      assert.deepEqual(left.messages.map((m) => m.ID), [list.messages[1].ID]);

      const bad = await fetch(`${mailbox.url}/api/v1/messages`, { method: "DELETE", body: "{IDs:" });
      assert.equal(bad.status, 400);
      assert.match((await bad.json()).Error, /JSON/);
      assert.equal((await getJson<MessagesSummary>(`${mailbox.url}/api/v1/messages`)).total, 1);

      const all = await fetch(`${mailbox.url}/api/v1/messages`, { method: "DELETE" });
      assert.equal(all.status, 200);
      await all.body?.cancel();
      const empty: MessagesSummary = await getJson(`${mailbox.url}/api/v1/messages`);
      assert.equal(empty.total, 0);
      assert.deepEqual(empty.messages, []);
    });

    await t.step("a wrong method is a 405 naming the allowed ones", async () => {
      const res = await fetch(`${mailbox.url}/api/v1/messages`, { method: "POST" });
      assert.equal(res.status, 405);
      assert.equal(res.headers.get("allow"), "GET, DELETE");
      await res.body?.cancel();
    });
  });
});

Deno.test("the mailbox escapes what a mail says in its web page", async () => {
  await withMailbox({}, async (mailbox) => {
    await sendMail({ ...mailbox.smtp, ...DEFAULT_SENDER }, {
      to: "x@example.com",
      subject: `<script>alert("subject")</script>`,
      html: `<p>hi</p>`,
      text: `<img src=x onerror=alert(1)> see https://example.com/a?b=1&c=2`,
    });
    const index = await (await fetch(`${mailbox.url}/`)).text();
    assert.ok(!index.includes("<script>"));
    assert.ok(index.includes("&lt;script&gt;alert(&quot;subject&quot;)&lt;/script&gt;"));
    const { messages } = await getJson<MessagesSummary>(`${mailbox.url}/api/v1/messages`);
    const view = await (await fetch(`${mailbox.url}/view/${messages[0].ID}`)).text();
    assert.ok(!view.includes("<img"));
    assert.ok(
      view.includes(`&lt;img src=x onerror=alert(1)&gt; see <a href="https://example.com/a?b=1&amp;c=2"`),
    );
  });
});

Deno.test("the mailbox keeps only the newest maxMessages", async () => {
  await withMailbox({ maxMessages: 2 }, async (mailbox) => {
    const smtp = { ...mailbox.smtp, ...DEFAULT_SENDER };
    for (const n of [1, 2, 3]) await sendMail(smtp, confirmation(`user${n}@example.com`, `Mail ${n}`));
    const list: MessagesSummary = await getJson(`${mailbox.url}/api/v1/messages`);
    assert.equal(list.total, 2);
    assert.deepEqual(list.messages.map((m) => m.Subject), ["Mail 3", "Mail 2"]);
  });
});

Deno.test("sendMail() is refused with 552 for a message over the size cap, and nothing is stored", async () => {
  await withMailbox({ maxMessageBytes: 4096 }, async (mailbox) => {
    const smtp = { ...mailbox.smtp, ...DEFAULT_SENDER };
    const big = { ...confirmation("big@example.com"), html: `<p>${"x".repeat(8192)}</p>` };
    const err = await sendMail(smtp, big).then(() => undefined, (e) => e);
    assert.ok(err instanceof SmtpError, String(err));
    assert.equal(err.code, "smtp_rejected");
    assert.match(
      err.message,
      new RegExp(`^SMTP server 127\\.0\\.0\\.1:${mailbox.smtp.port} refused the mail: 552 `),
    );
    // The connection stays usable for a mail within the cap.
    await sendMail(smtp, confirmation("small@example.com"));
    const list: MessagesSummary = await getJson(`${mailbox.url}/api/v1/messages`);
    assert.deepEqual(list.messages.map((m) => m.To[0].Address), ["small@example.com"]);
  });
});

Deno.test("sendMail() to a closed port fails with a clear SmtpError", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  const err = await sendMail({ host: "127.0.0.1", port, ...DEFAULT_SENDER }, confirmation("a@example.com"))
    .then(() => undefined, (e) => e);
  assert.ok(err instanceof SmtpError, String(err));
  assert.equal(err.code, "smtp_unreachable");
  assert.match(
    err.message,
    new RegExp(`^SMTP server 127\\.0\\.0\\.1:${port} could not be reached: .*ECONNREFUSED`),
  );
});

Deno.test("startMailbox() on a taken port fails and leaves nothing listening", async () => {
  const taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    await assert.rejects(startMailbox({ port: taken.addr.port }), Deno.errors.AddrInUse);
    await assert.rejects(startMailbox({ smtpPort: taken.addr.port }), /EADDRINUSE/);
  } finally {
    taken.close();
  }
});

Deno.test("the SMTP server answers 451 for a message it cannot store, and logs why", async () => {
  const lines: string[] = [];
  const smtp = await startSmtpServer({
    hostname: "127.0.0.1",
    port: 0,
    maxMessageBytes: 4096,
    onMessage: () => Promise.reject(new Error("store unavailable")),
    log: (line) => lines.push(line),
  });
  try {
    const err = await sendMail(
      { host: "127.0.0.1", port: smtp.port, ...DEFAULT_SENDER },
      confirmation("a@example.com"),
    )
      .then(() => undefined, (e) => e);
    assert.ok(err instanceof SmtpError, String(err));
    assert.equal(err.code, "smtp_rejected");
    assert.match(err.message, /refused the mail: 451 /);
    assert.deepEqual(lines, ["mailbox: a message could not be stored: store unavailable"]);
  } finally {
    await smtp.stop();
  }
});
