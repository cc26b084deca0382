// End to end over the HTTP fallback: the SDK from Node, with fetch
// streaming, against a real `herald serve` that pings every second, so
// that the stream's ping events must be answered for sessions to live.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { HeraldClient, type HeraldClientOptions, type StateEvent, type WebSocketConstructor } from "../src/client.js";
import type { MessageFrame } from "../src/frames.js";
import type { Ack } from "../src/outbox.js";
import { MemoryStorage } from "../src/storage.js";
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
  it("delivers each message once and in order to two clients", async () => {
    const alice = client("alice");
    const bob = client("bob");
    try {
      await Promise.all([alice.connect(), bob.connect()]);
      expect([alice.transport, bob.transport]).toEqual(["sse", "sse"]);
      const got: Record<string, MessageFrame[]> = { alice: [], bob: [] };
      const sa = alice.subscribe("chat.sse");
      const sb = bob.subscribe("chat.sse");
      sa.on("message", (m) => got.alice.push(m));
      sb.on("message", (m) => got.bob.push(m));
      await Promise.all([sa.ready, sb.ready]);
      // Published at once: they queue behind one POST in flight and go in batches.
      const acks = await Promise.all([0, 1, 2, 3, 4].map((n) => alice.publish("chat.sse", "msg", { n })));
      acks.push(await bob.publish("chat.sse", "msg", { n: 5 }));
      expect(acks.map((a) => a.seq)).toEqual([1, 2, 3, 4, 5, 6]);
      await until(() => got.alice.length >= 6 && got.bob.length >= 6, 5000, "six messages each");
      await new Promise((r) => setTimeout(r, 100)); // a duplicate would show up here
      for (const who of ["alice", "bob"]) {
        expect(got[who].map((m) => (m.payload as { n: number }).n)).toEqual([0, 1, 2, 3, 4, 5]);
        expect(got[who].map((m) => m.seq)).toEqual([1, 2, 3, 4, 5, 6]);
      }
      expect(got.bob[0].from).toBe("alice");
      const page = await bob.history("chat.sse", { after: 3 });
      expect(page.messages.map((m) => m.seq)).toEqual([4, 5, 6]);
    } finally {
      alice.close();
      bob.close();
    }
  });

  it("after a server restart, every message arrives once and each publish is acked once", async () => {
    const aliceStore = new MemoryStorage();
    const alice = client("alice", { storage: aliceStore });
    const bob = client("bob");
    const states: string[] = [];
    bob.on("state", (e) => states.push(e.state));
    try {
      await Promise.all([alice.connect(), bob.connect()]);
      const got: MessageFrame[] = [];
      const sb = bob.subscribe("chat.sserestart");
      sb.on("message", (m) => got.push(m));
      await sb.ready;
      const ackEvents: Ack[] = [];
      alice.on("ack", (a) => ackEvents.push(a));

      const acked = await alice.publish("chat.sserestart", "msg", "before");
      // A publish in a POST when the server dies: frozen first, so that
      // no ack can come back, then killed.
      srv.proc!.kill("SIGSTOP");
      const inFlight = alice.publish("chat.sserestart", "msg", "in-flight");
      await new Promise((r) => setTimeout(r, 100));
      expect(alice.pendingPublishes).toBe(1);
      await srv.kill();
      await until(() => alice.state !== "connected" && bob.state !== "connected", 5000, "both disconnected");
      const offline = [alice.publish("chat.sserestart", "msg", "offline-1"), alice.publish("chat.sserestart", "msg", "offline-2")];
      await until(() => alice.pendingPublishes === 3, 2000, "three publishes in the outbox");

      await srv.start();
      const acks = await Promise.all([inFlight, ...offline]);
      expect(acks.map((a) => a.seq)).toEqual([2, 3, 4]);
      await until(() => got.length >= 4, 10000, "bob to catch up");
      await new Promise((r) => setTimeout(r, 200));
      expect(got.map((m) => m.payload)).toEqual(["before", "in-flight", "offline-1", "offline-2"]);
      expect(got.map((m) => m.seq)).toEqual([1, 2, 3, 4]);
      expect(acked.seq).toBe(1);
      expect(ackEvents.map((a) => a.seq)).toEqual([1, 2, 3, 4]);
      expect(alice.pendingPublishes).toBe(0);
      expect(states).toContain("disconnected");
      expect(bob.state).toBe("connected");
      expect(bob.transport).toBe("sse");
      expect(sb.lastSeq).toBe(4);
    } finally {
      alice.close();
      bob.close();
    }
  }, 30_000);

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
