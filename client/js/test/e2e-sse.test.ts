// End to end over the HTTP fallback, what only SSE has: ping events that
// must be answered (the server pings every second) and the fallback from
// a failed WebSocket. e2e.test.ts runs every other test over both
// transports.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { HeraldClient, type HeraldClientOptions, type StateEvent, type WebSocketConstructor } from "../src/client.js";
import type { MessageFrame } from "../src/frames.js";
import { HeraldServer, until } from "./herald.js";

const srv = new HeraldServer(["--ping-interval", "1s", "--pong-timeout", "1s"]);

/** client makes a client of sub over SSE alone. */
function client(sub: string, extra: Partial<HeraldClientOptions> = {}): HeraldClient {
  return new HeraldClient({
    url: `ws://127.0.0.1:${srv.port}/ws`,
    token: async () => srv.mint(sub),
    transports: ["sse"],
    backoffMin: 50,
    backoffMax: 400,
    environment: null,
    ...extra,
  });
}

beforeAll(() => srv.build(), 240_000);
afterAll(() => srv.cleanup());

describe("HeraldClient over SSE against herald serve", () => {
  it("refreshes a token on token_expiring and answers pings, on one session", async () => {
    // Tokens valid for 63 s: token_expiring comes ~3 s after each auth_ok
    // (warning 60 s before expiry). A refresh the server accepted gives a
    // new identity, which is warned again; so a third token call means the
    // second one worked. Meanwhile the server pings every second.
    let calls = 0;
    const carol = client("carol", {
      token: async () => {
        calls++;
        return srv.mint("carol", 63);
      },
    });
    const states: StateEvent[] = [];
    const errors: Error[] = [];
    carol.on("state", (e) => states.push(e));
    carol.on("error", (e) => errors.push(e));
    try {
      await carol.connect();
      await until(() => calls >= 3, 20000, "two refreshes");
      expect(states.map((e) => e.state)).toEqual(["connecting", "connected"]);
      expect(errors).toEqual([]);
      const ack = await carol.publish("chat.refresh", "msg", "still here");
      expect(ack.seq).toBe(1);
    } finally {
      carol.close();
    }
  }, 30_000);

  it("falls back to SSE when the WebSocket upgrade fails", async () => {
    const dave = new HeraldClient({
      url: `ws://127.0.0.1:${srv.port}/nows`, // no WebSocket here
      sseUrl: `http://127.0.0.1:${srv.port}/sse`,
      WebSocket: WebSocket as unknown as WebSocketConstructor,
      token: async () => srv.mint("dave"),
      backoffMin: 50,
      backoffMax: 400,
      environment: null,
    });
    const states: StateEvent[] = [];
    dave.on("state", (e) => states.push(e));
    const eve = client("eve");
    try {
      await Promise.all([dave.connect(), eve.connect()]);
      expect(dave.transport).toBe("sse");
      expect(states.map((e) => `${e.state}/${e.transport}`)).toEqual(["connecting/websocket", "disconnected/sse", "connecting/sse", "connected/sse"]);
      const got: MessageFrame[] = [];
      const sd = dave.subscribe("chat.fallback");
      sd.on("message", (m) => got.push(m));
      await sd.ready;
      const ack = await eve.publish("chat.fallback", "msg", "hi");
      await until(() => got.length === 1, 5000, "dave to get the message");
      expect(got[0]).toMatchObject({ seq: ack.seq, payload: "hi", from: "eve" });
    } finally {
      dave.close();
      eve.close();
    }
  });
});
