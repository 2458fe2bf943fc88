/**
 * Browser test helpers: a real filedrop server over a temp ROOT and Debian's
 * headless Chromium driven by playwright-core (Playwright's own browser
 * download cannot work here), with a fresh profile for every test.
 *
 * @module
 */

import { chromium } from "playwright-core";
import type { BrowserContext, BrowserContextOptions, Page } from "playwright-core";
import { serve } from "../lib/mod.ts";
import type { FileServer, ServeOptions } from "../lib/mod.ts";

/** Where Chromium is; `CHROMIUM_PATH` overrides Debian's /usr/bin/chromium. */
export const CHROMIUM_PATH = Deno.env.get("CHROMIUM_PATH") ?? "/usr/bin/chromium";

/** Headless, no sandbox (we run as root), and no network chatter of its own. */
const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
];

/** How long a Playwright action or wait may take before the test fails. */
const ACTION_TIMEOUT_MS = 10_000;

/** A browser with one persistent context, and the way to close it and delete its profile. */
export interface Browser {
  /** The browser context (one profile). */
  context: BrowserContext;
  /** Closes the browser and deletes its user-data dir. */
  close(): Promise<void>;
}

/** Launches headless Chromium on a fresh user-data dir. */
export async function launchBrowser(options: BrowserContextOptions = {}): Promise<Browser> {
  const userDataDir = await Deno.makeTempDir({ prefix: "filedrop-chromium-" });
  try {
    const context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM_PATH,
      headless: true,
      args: CHROMIUM_ARGS,
      ...options,
    });
    context.setDefaultTimeout(ACTION_TIMEOUT_MS);
    return {
      context,
      close: async () => {
        await context.close();
        await Deno.remove(userDataDir, { recursive: true });
      },
    };
  } catch (error) {
    await Deno.remove(userDataDir, { recursive: true });
    throw error;
  }
}

/** Whether Chromium is installed where the tests look for it. */
export function chromiumInstalled(): boolean {
  try {
    return Deno.statSync(CHROMIUM_PATH).isFile;
  } catch {
    return false;
  }
}

const NO_CHROMIUM = !chromiumInstalled();
if (NO_CHROMIUM) console.warn(`Skipping browser tests: no Chromium at ${CHROMIUM_PATH}`);

/** Registers a browser test, skipped when Chromium is missing. */
export function browserTest(name: string, fn: () => Promise<void>): void {
  // Playwright keeps a pipe and timers to its browser process between calls,
  // which the sanitizers would report as leaks of each test.
  Deno.test({ name, ignore: NO_CHROMIUM, sanitizeOps: false, sanitizeResources: false, fn });
}

/** What a browser test gets: the page, the server and its ROOT. */
export interface BrowserFixture {
  /** A fresh page, not yet navigated. */
  page: Page;
  /** The running server. */
  server: FileServer;
  /** The server's ROOT (a real path). */
  root: string;
  /** Page errors, console errors and CSP violations seen so far. */
  problems: string[];
}

/** Options of {@linkcode withBrowserPage}. */
export interface BrowserPageOptions {
  /** Server options (root, port and hostname are set by the helper). */
  serve?: Partial<ServeOptions>;
  /** Browser context options (viewport, credentials, colour scheme...). */
  context?: BrowserContextOptions;
  /** Console errors matching this are expected (a 401 or 412 logs one) and not problems. */
  expectedConsoleErrors?: RegExp;
}

/**
 * Runs `fn` with a server over a fresh temp ROOT and a fresh browser page,
 * then fails the test if the page threw, logged an unexpected console error
 * or violated its Content-Security-Policy.
 */
export async function withBrowserPage(
  options: BrowserPageOptions,
  fn: (fixture: BrowserFixture) => Promise<void>,
): Promise<void> {
  const root = await Deno.realPath(await Deno.makeTempDir({ prefix: "filedrop-browser-" }));
  const server = await serve({
    root,
    port: 0,
    hostname: "127.0.0.1",
    fsync: false,
    onError: (error) => console.error("server error:", error),
    ...options.serve,
  });
  const browser = await launchBrowser(options.context);
  try {
    const page = await browser.context.newPage();
    const problems: string[] = [];
    page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
    page.on("console", (message) => {
      if (message.type() !== "error") return;
      if (options.expectedConsoleErrors?.test(message.text())) return;
      // Chromium asks for /favicon.ico on pages that are not listings (a plain text file).
      if (message.location().url.endsWith("/favicon.ico")) return;
      problems.push(`console error: ${message.text()}`);
    });
    await fn({ page, server, root, problems });
    if (problems.length > 0) throw new Error(`The page reported problems:\n${problems.join("\n")}`);
  } finally {
    await browser.close();
    await server.shutdown();
    await Deno.remove(root, { recursive: true });
  }
}

/** Polls `condition` until it holds or `timeoutMs` passes (then throws with `what`). */
export async function eventually(
  what: string,
  condition: () => boolean | Promise<boolean>,
  timeoutMs = ACTION_TIMEOUT_MS,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** The names in the listing table, in display order (visible rows only). */
export function listedNames(page: Page): Promise<string[]> {
  return page.locator("#listing tbody tr[data-name]:visible td.name a").allTextContents();
}

/** Limits this page's upload speed (Chromium network emulation), so progress can be watched. */
export async function throttleUploads(page: Page, bytesPerSecond: number): Promise<void> {
  const session = await page.context().newCDPSession(page);
  await session.send("Network.enable");
  await session.send("Network.emulateNetworkConditions", {
    offline: false,
    latency: 0,
    downloadThroughput: -1,
    uploadThroughput: bytesPerSecond,
  });
}
