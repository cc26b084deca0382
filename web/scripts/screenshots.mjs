// Takes the README's screenshots (docs/images/demo.png, admin.png): builds
// herald, starts a node in development mode, chats from two browsers in
// Debian's Chromium, and opens the admin page. Run: npm run screenshots.
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const repo = join(dirname(fileURLToPath(import.meta.url)), "../..");
const images = join(repo, "docs", "images");
const tmp = mkdtempSync(join(tmpdir(), "herald-shots-"));
const bin = join(tmp, "herald");
execFileSync("go", ["build", "-o", bin, "./cmd/herald"], { cwd: repo, stdio: "inherit" });
const port = await new Promise((res) => {
  const s = createServer().listen(0, "127.0.0.1", () => {
    const p = s.address().port;
    s.close(() => res(p));
  });
});
const adminPassword = "screenshot-password";
const node = spawn(bin, ["serve", "--addr", `127.0.0.1:${port}`, "--data", join(tmp, "data"), "--log-level", "warn", "--admin-password", adminPassword], {
  stdio: "ignore",
});
const url = `http://127.0.0.1:${port}`;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
for (let i = 0; ; i++) {
  try {
    await fetch(`${url}/healthz`);
    break;
  } catch (err) {
    if (i > 100) throw err;
    await sleep(100);
  }
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  args: ["--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
try {
  const user = async (name) => {
    const context = await browser.newContext({ viewport: { width: 960, height: 560 }, deviceScaleFactor: 1 });
    const page = await context.newPage();
    await page.goto(url);
    await page.getByTestId("name").fill(name);
    await page.getByTestId("join").click();
    await page.getByTestId("conn").filter({ hasText: "online" }).waitFor();
    return { context, page };
  };
  const say = async (page, text) => {
    await page.getByTestId("text").fill(text);
    await page.getByTestId("send").click();
    await sleep(400);
  };
  const alice = await user("alice");
  const bob = await user("bob");
  await say(alice.page, "Hi Bob! Did the build pass?");
  await say(bob.page, "All green. Shipping after lunch.");
  await say(alice.page, "Great. I'm on the train, signal comes and goes");
  await sleep(1500); // receipts
  await alice.context.setOffline(true);
  await sleep(300);
  await say(alice.page, "this one waits in the outbox until I'm back");
  await bob.page.getByTestId("text").pressSequentially("no rush");
  await sleep(600);
  await alice.page.screenshot({ path: join(images, "demo.png") });
  await alice.context.setOffline(false);
  await bob.page.getByTestId("text").fill("");

  const admin = await browser.newPage({ viewport: { width: 1200, height: 800 } });
  await admin.goto(`${url}/admin`);
  await admin.getByTestId("login-user").fill("admin");
  await admin.getByTestId("login-password").fill(adminPassword);
  await admin.getByTestId("login-submit").click();
  await admin.getByTestId("connections").waitFor();
  // Half a minute of steady chat, so that the charts have a history.
  await admin.locator('[data-testid=channel-item][data-channel="demo.lobby"]').click();
  for (let i = 0; i < 60; i++) await say(i % 3 ? bob.page : alice.page, `message ${i}`);
  await admin.locator('[data-testid=channel-item][data-channel="demo.lobby"]').click();
  await sleep(500);
  await admin.screenshot({ path: join(images, "admin.png") });
  console.log(`wrote ${join(images, "demo.png")} and admin.png`);
} finally {
  await browser.close();
  node.kill();
  rmSync(tmp, { recursive: true, force: true });
}
