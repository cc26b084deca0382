// What the browser tests share: a real `herald serve` on a free port, and
// Debian's Chromium driven by playwright-core (never a downloaded browser).
import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { createServer, connect as tcpConnect } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, beforeEach, expect, inject } from "vitest";

/** Where screenshots of failed tests go. */
export const resultsDir = join(dirname(fileURLToPath(import.meta.url)), "..", "test-results");

/** The Chromium binary: CHROMIUM in the environment, else Debian's. */
export const chromiumPath = process.env.CHROMIUM ?? "/usr/bin/chromium";

export function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => res(p));
    });
    s.on("error", rej);
  });
}

async function waitListening(port: number, ms = 15000): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    const ok = await new Promise<boolean>((res) => {
      const c = tcpConnect(port, "127.0.0.1");
      c.on("connect", () => (c.destroy(), res(true)));
      c.on("error", () => res(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`herald did not listen on ${port}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Herald is one `herald serve` child process with its own data directory. */
export class Herald {
  readonly url: string;
  private proc?: ChildProcess;
  private readonly dir: string;

  private constructor(readonly port: number) {
    this.url = `http://127.0.0.1:${port}`;
    this.dir = mkdtempSync(join(tmpdir(), "herald-web-data-"));
  }

  /** start runs a node in development mode (the demo on) with extra flags. */
  static async start(args: string[] = []): Promise<Herald> {
    const h = new Herald(await freePort());
    h.proc = spawn(inject("heraldBin"), ["serve", "--addr", `127.0.0.1:${h.port}`, "--data", join(h.dir, "data"), "--log-level", "warn", ...args], {
      stdio: ["ignore", "ignore", "inherit"],
    });
    await waitListening(h.port);
    return h;
  }

  /** metric reads one unlabelled sample from /metrics. */
  async metric(name: string): Promise<number> {
    const text = await (await fetch(`${this.url}/metrics`)).text();
    const line = text.split("\n").find((l) => l.startsWith(`${name} `));
    if (!line) throw new Error(`no ${name} in /metrics`);
    return Number(line.split(" ")[1]);
  }

  async stop(): Promise<void> {
    const p = this.proc;
    this.proc = undefined;
    if (p && p.exitCode === null) {
      const exited = new Promise((r) => p.once("exit", r));
      p.kill("SIGKILL");
      await exited;
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** launch starts headless Chromium with the flags this machine's closed network needs. */
export function launch(): Promise<Browser> {
  return chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    chromiumSandbox: false,
    args: [
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}

/** Pages opened by a test, kept to screenshot them when it fails. */
export class Pages {
  readonly all: { name: string; page: Page }[] = [];

  constructor(private readonly browser: Browser) {}

  /** open makes a new context (a separate user: own storage and network) and a page in it. */
  async open(name: string): Promise<{ context: BrowserContext; page: Page }> {
    const context = await this.browser.newContext({ viewport: { width: 1100, height: 720 } });
    const page = await context.newPage();
    page.on("pageerror", (err) => console.error(`[${name}] page error: ${err.message}`));
    this.all.push({ name, page });
    return { context, page };
  }

  /** screenshot saves every open page as test-results/<test>-<name>.png. */
  async screenshot(test: string): Promise<void> {
    mkdirSync(resultsDir, { recursive: true });
    const slug = test.replace(/[^a-z0-9]+/gi, "-").slice(0, 80);
    for (const { name, page } of this.all) {
      if (page.isClosed()) continue;
      await page.screenshot({ path: join(resultsDir, `${slug}-${name}.png`) }).catch(() => {});
    }
  }

  async closeAll(): Promise<void> {
    for (const { page } of this.all) await page.context().close().catch(() => {});
    this.all.length = 0;
  }
}

/** poll waits until fn returns a value that passes check, or fails with the last value. */
export async function eventually<T>(fn: () => Promise<T>, check: (v: T) => void, ms = 20000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    try {
      check(v);
      return v;
    } catch (err) {
      if (Date.now() > deadline) throw err;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

export { expect };

/** BrowserSuite is what a test file's tests use: its node, and the pages of the running test. */
export interface BrowserSuite {
  herald: Herald;
  pages: Pages;
}

/**
 * browserSuite registers the hooks every browser test file needs: one
 * `herald serve` (with args) and one Chromium for the file, a fresh Pages
 * per test, screenshots of a failed test's pages, and cleanup. Read the
 * returned object's fields inside tests.
 */
export function browserSuite(args: string[] = []): BrowserSuite {
  const s = {} as BrowserSuite;
  let browser: Browser;
  beforeAll(async () => {
    [s.herald, browser] = await Promise.all([Herald.start(args), launch()]);
  });
  afterAll(async () => {
    await browser?.close();
    await s.herald?.stop();
  });
  beforeEach(() => {
    s.pages = new Pages(browser);
  });
  afterEach(async (ctx) => {
    if (ctx.task.result?.state === "fail") await s.pages.screenshot(ctx.task.name);
    await s.pages.closeAll();
  });
  return s;
}
