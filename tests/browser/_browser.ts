/**
 * Test support for the browser tests: Debian's Chromium, headless, driven by playwright-core (which never
 * downloads a browser of its own), and the demo page's conventions (`body[data-ready]`, `body[data-busy]`,
 * `#error[data-code]`).
 *
 * @module
 */
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";

const CHROMIUM = Deno.env.get("CHROMIUM_PATH") ?? "/usr/bin/chromium";
const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
  "--disable-quic",
];

/** What the browser sent, as DevTools saw it, and what the page logged. */
export interface PageRecord {
  page: Page;
  requests: { method: string; url: string }[];
  console: string[];
}

/**
 * Starts headless Chromium without a profile folder, for tests that open several isolated contexts
 * (`browser.newContext()`: separate cookies and storage, as two people on two machines).
 *
 * @returns The browser; close it when done.
 * @throws {Error} When there is no Chromium (apt-get install chromium, or set CHROMIUM_PATH).
 */
export async function launchBrowser(): Promise<Browser> {
  await assertChromium();
  return await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
}

/**
 * Starts headless Chromium with a profile folder of its own.
 *
 * @param profile An empty folder (the caller removes it).
 * @returns The browser context; close it when done.
 * @throws {Error} When there is no Chromium (apt-get install chromium, or set CHROMIUM_PATH).
 */
export async function launchChromium(profile: string): Promise<BrowserContext> {
  await assertChromium();
  return await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
  });
}

async function assertChromium(): Promise<void> {
  try {
    await Deno.stat(CHROMIUM);
  } catch {
    throw new Error(`No Chromium at ${CHROMIUM}: apt-get install chromium (or set CHROMIUM_PATH)`);
  }
}

/**
 * Opens the demo page, recording its requests (preflights included) and console, and waits until it
 * knows who is signed in.
 *
 * @param context The browser.
 * @param url The page.
 * @returns The page and its record.
 */
export async function openPage(context: BrowserContext, url: string): Promise<PageRecord> {
  const page = await context.newPage();
  const record: PageRecord = { page, requests: [], console: [] };
  page.on("console", (message) => record.console.push(message.text()));
  page.on("pageerror", (err) => record.console.push(`pageerror: ${err.message}`));
  const cdp = await context.newCDPSession(page);
  cdp.on("Network.requestWillBeSent", (event) => {
    record.requests.push({ method: event.request.method, url: event.request.url });
  });
  await cdp.send("Network.enable");
  await page.goto(url);
  await page.waitForSelector("body[data-ready=true]");
  return record;
}

/**
 * Clicks and waits until the page reports the action's outcome.
 *
 * @param page The demo page.
 * @param selector What to click.
 * @returns The error code the page shows, or null.
 */
export async function act(page: Page, selector: string): Promise<string | null> {
  await page.click(selector); // the action starts synchronously, in the click's handler
  await page.waitForSelector("body[data-busy=false]");
  return await page.getAttribute("#error", "data-code");
}
