// The demo chat in Chromium where WebSocket is blocked: the SDK falls back
// to the SSE transport by itself and the chat works as before.
import type { Browser } from "playwright-core";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { login, rows, send } from "./demo-page.js";
import { eventually, Herald, launch, Pages } from "./harness.js";

let herald: Herald;
let browser: Browser;
let pages: Pages;

beforeAll(async () => {
  [herald, browser] = await Promise.all([Herald.start(), launch()]);
});

afterAll(async () => {
  await browser?.close();
  await herald?.stop();
});

beforeEach(() => {
  pages = new Pages(browser);
});

afterEach(async (ctx) => {
  if (ctx.task.result?.state === "fail") await pages.screenshot(ctx.task.name);
  await pages.closeAll();
});

describe("demo chat without WebSocket", () => {
  it("falls back to SSE: two users chat, one of them without WebSocket", async () => {
    const { page: alice, context: aliceCtx } = await pages.open("alice");
    // A proxy that kills every WebSocket handshake: the page's sockets
    // are cut before they open.
    await aliceCtx.routeWebSocket(/\/ws$/, (ws) => ws.close({ code: 1006, reason: "blocked" }));
    const { page: bob } = await pages.open("bob");
    await login(alice, herald.url, "alice5", "room5");
    await login(bob, herald.url, "bob5", "room5");
    await expect(alice.evaluate(() => (window as unknown as { heraldDemo: { client: { transport: string } } }).heraldDemo.client.transport)).resolves.toBe("sse");
    await expect(bob.evaluate(() => (window as unknown as { heraldDemo: { client: { transport: string } } }).heraldDemo.client.transport)).resolves.toBe("websocket");
    await expect(alice.getByTestId("transport").textContent()).resolves.toBe("via SSE fallback");
    await expect(bob.getByTestId("transport").textContent()).resolves.toBe("");
    await send(alice, "over SSE");
    await send(bob, "over WebSocket");
    for (const p of [alice, bob]) {
      await eventually(() => rows(p), (rs) => expect(rs.map((r) => r.text)).toEqual(["over SSE", "over WebSocket"]));
    }
    await eventually(() => rows(alice), (rs) => expect(rs[0].state).toBe("read"));
  });
});
