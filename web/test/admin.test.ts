// The admin page in Debian's Chromium against a real `herald serve`: the
// login, and live counts that follow what two demo users do.
import type { Page } from "playwright-core";
import { describe, expect, it } from "vitest";
import { login, send } from "./demo-page.js";
import { browserSuite, eventually } from "./harness.js";

const password = "admin-test-password-1";
const suite = browserSuite(["--admin-password", password]);

async function adminLogin(page: Page, pass: string): Promise<void> {
  await page.goto(`${suite.herald.url}/admin`);
  await page.getByTestId("login-user").fill("admin");
  await page.getByTestId("login-password").fill(pass);
  await page.getByTestId("login-submit").click();
}

const number = async (page: Page, id: string) => Number(await page.getByTestId(id).textContent());

describe("admin page in Chromium", () => {
  it("refuses a wrong password and shows no numbers", async () => {
    const { page } = await suite.pages.open("admin");
    await adminLogin(page, "not the password");
    await eventually(() => page.getByTestId("login-error").textContent(), (t) => expect(t).not.toBe(""));
    expect(await page.getByTestId("connections").count()).toBe(0);
    const res = await page.request.get(`${suite.herald.url}/admin/metrics`);
    expect(res.status()).toBe(401);
  });

  it("shows the live counts: connections, channels, messages, nodes, and a channel's presence and history", async () => {
    const { page: admin } = await suite.pages.open("admin");
    await adminLogin(admin, password);
    await eventually(() => number(admin, "connections"), (n) => expect(n).toBe(0));
    await expect(number(admin, "nodes")).resolves.toBe(1);

    const { page: alice } = await suite.pages.open("alice");
    const { page: bob } = await suite.pages.open("bob");
    await login(alice, suite.herald.url, "alice", "ops");
    await login(bob, suite.herald.url, "bob", "ops");
    // Each demo page keeps one connection with lobby, random and ops.
    await eventually(() => number(admin, "connections"), (n) => expect(n).toBe(2));
    await eventually(() => number(admin, "authenticated"), (n) => expect(n).toBe(2));
    await eventually(() => number(admin, "channels"), (n) => expect(n).toBe(3));
    await eventually(() => number(admin, "subscriptions"), (n) => expect(n).toBe(6));

    for (let i = 1; i <= 10; i++) await send(i % 2 ? alice : bob, `ops message ${i}`);
    await eventually(() => number(admin, "messages-in-rate"), (n) => expect(n).toBeGreaterThan(0));
    await eventually(() => number(admin, "messages-out-rate"), (n) => expect(n).toBeGreaterThan(0));
    await eventually(() => admin.getByTestId("latency-p50").textContent(), (t) => expect(t).not.toBe("–"));

    // The inspector: the channel, who is in it, its recent messages.
    await admin.getByTestId("channels-refresh").click();
    await admin.locator('[data-testid=channel-item][data-channel="demo.ops"]').click();
    await eventually(() => admin.getByTestId("inspected-channel").textContent(), (t) => expect(t).toContain("demo.ops"));
    await eventually(() => admin.getByTestId("presence-member").allTextContents(), (t) => expect(t.join(" ")).toMatch(/alice.*bob|bob.*alice/));
    await eventually(() => admin.getByTestId("history-item").allTextContents(), (t) => {
      expect(t).toHaveLength(10);
      expect(t.join("\n")).toContain("ops message 10");
    });

    // A user leaves: the count follows.
    await bob.context().close();
    await eventually(() => number(admin, "connections"), (n) => expect(n).toBe(1));
    await admin.getByTestId("logout").click();
    await admin.getByTestId("login-password").waitFor();
  });
});
