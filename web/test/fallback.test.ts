// The demo chat in Chromium where WebSocket is blocked: the SDK falls back
// to the SSE transport by itself and the chat works as before.
import { describe, expect, it } from "vitest";
import { login, rows, send } from "./demo-page.js";
import { browserSuite, eventually } from "./harness.js";

const suite = browserSuite();

describe("demo chat without WebSocket", () => {
  it("falls back to SSE: two users chat, one of them without WebSocket", async () => {
    const { page: alice, context: aliceCtx } = await suite.pages.open("alice");
    // A proxy that kills every WebSocket handshake: the page's sockets
    // are cut before they open.
    await aliceCtx.routeWebSocket(/\/ws$/, (ws) => ws.close({ code: 1006, reason: "blocked" }));
    const { page: bob } = await suite.pages.open("bob");
    await login(alice, suite.herald.url, "alice5", "room5");
    await login(bob, suite.herald.url, "bob5", "room5");
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
