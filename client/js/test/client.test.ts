// The client's protocol logic against a scripted in-memory WebSocket: what
// it sends and how it reacts to frames and close codes.
import { describe, expect, it } from "vitest";
import { HeraldClient, type WebSocketConstructor, type WebSocketLike } from "../src/client.js";
import type { ClientFrame, MessageFrame, ServerFrame } from "../src/frames.js";

class FakeSocket implements WebSocketLike {
  static all: FakeSocket[] = [];
  readyState = 0;
  sent: ClientFrame[] = [];
  closedWith: number | undefined;
  onopen: ((ev: unknown) => void) | null = null;
  onmessage: ((ev: { data: unknown }) => void) | null = null;
  onclose: ((ev: { code: number; reason: string }) => void) | null = null;
  onerror: ((ev: unknown) => void) | null = null;

  constructor(readonly url: string) {
    FakeSocket.all.push(this);
    setTimeout(() => {
      this.readyState = 1;
      this.onopen?.({});
    });
  }

  send(data: string): void {
    const v = JSON.parse(data) as ClientFrame | ClientFrame[];
    this.sent.push(...(Array.isArray(v) ? v : [v]));
  }

  close(code = 1000): void {
    this.closedWith = code;
  }

  /** deliver sends server frames to the client. */
  deliver(...frames: ServerFrame[]): void {
    this.onmessage?.({ data: JSON.stringify(frames.length === 1 ? frames[0] : frames) });
  }

  /** serverClose closes the socket from the server's side. */
  serverClose(code: number): void {
    this.readyState = 3;
    this.onclose?.({ code, reason: "" });
  }

  last<T extends ClientFrame["type"]>(type: T): Extract<ClientFrame, { type: T }> {
    const f = [...this.sent].reverse().find((x) => x.type === type);
    if (!f) throw new Error(`no ${type} sent`);
    return f as Extract<ClientFrame, { type: T }>;
  }
}

const tick = (ms = 5) => new Promise((r) => setTimeout(r, ms));

async function setup(tokens: string[] = ["t1", "t2", "t3", "t4"]) {
  FakeSocket.all = [];
  let n = 0;
  const c = new HeraldClient({
    url: "ws://server/ws",
    fallbackUrls: ["ws://other/ws"],
    token: async () => tokens[n++] ?? "tN",
    WebSocket: FakeSocket as unknown as WebSocketConstructor,
    backoffMin: 1,
    backoffMax: 4,
  });
  const connected = c.connect();
  await tick();
  const ws = FakeSocket.all[0];
  const auth = ws.last("auth");
  ws.deliver({ type: "auth_ok", id: auth.id, connectionId: "c1", userId: "u", expiresAt: 0 });
  await connected;
  return { c, ws };
}

const msg = (seq: number, channel = "chat.1"): MessageFrame => ({ type: "message", channel, seq, payload: seq, timestamp: 0 });

describe("HeraldClient protocol logic", () => {
  it("drops duplicate seqs and resubscribes from lastSeq on a gap", async () => {
    const { c, ws } = await setup();
    const sub = c.subscribe("chat.1", { lastSeq: 3 });
    const got: number[] = [];
    sub.on("message", (m) => got.push(m.seq));
    await tick();
    const s = ws.last("subscribe");
    expect(s).toMatchObject({ channel: "chat.1", lastSeq: 3 });
    ws.deliver({ type: "subscribed", id: s.id, channel: "chat.1", seq: 6, recovered: true });
    await sub.ready;
    ws.deliver(msg(3), msg(4), msg(4), msg(5));
    expect(got).toEqual([4, 5]);
    ws.deliver(msg(7)); // 6 is missing
    expect(got).toEqual([4, 5]);
    const again = ws.last("subscribe");
    expect(again.id).not.toBe(s.id);
    expect(again.lastSeq).toBe(5);
    ws.deliver(msg(6)); // before the new subscribed: belongs to the old subscription
    expect(got).toEqual([4, 5]);
    ws.deliver({ type: "subscribed", id: again.id, channel: "chat.1", seq: 7, recovered: true }, msg(6), msg(7));
    expect(got).toEqual([4, 5, 6, 7]);
    expect(sub.lastSeq).toBe(7);
    c.close();
  });

  it("answers token_expiring with a new auth on the same connection", async () => {
    const { c, ws } = await setup(["first", "second"]);
    ws.deliver({ type: "token_expiring", expiresAt: 1 });
    await tick();
    expect(ws.last("auth").token).toBe("second");
    expect(FakeSocket.all).toHaveLength(1);
    expect(c.state).toBe("connected");
    c.close();
  });

  it.each([
    { name: "1000 stops", code: 1000, reconnects: false },
    { name: "1008 stops", code: 1008, reconnects: false },
    { name: "4003 stops", code: 4003, reconnects: false },
    { name: "4001 after auth reconnects with a new token", code: 4001, reconnects: true },
    { name: "1012 reconnects", code: 1012, reconnects: true },
    { name: "4008 reconnects", code: 4008, reconnects: true },
    { name: "an unknown code reconnects", code: 4999, reconnects: true },
  ])("close $code: $name", async ({ code, reconnects }) => {
    const { c, ws } = await setup();
    const sub = c.subscribe("chat.1");
    await tick();
    ws.deliver({ type: "subscribed", id: ws.last("subscribe").id, channel: "chat.1", seq: 9, recovered: false });
    const p = c.publish("chat.1", "e", "x");
    p.catch(() => {});
    await tick();
    const id = ws.last("publish").id;
    ws.serverClose(code);
    await tick(30);
    if (!reconnects) {
      expect(c.state).toBe("closed");
      expect(FakeSocket.all).toHaveLength(1);
      await expect(p).rejects.toMatchObject({ code });
      return;
    }
    expect(FakeSocket.all).toHaveLength(2);
    const ws2 = FakeSocket.all[1];
    expect(ws2.url).toBe("ws://other/ws"); // the next endpoint
    expect(ws2.last("auth").token).toBe("t2");
    ws2.deliver({ type: "auth_ok", id: ws2.last("auth").id, connectionId: "c2", userId: "u", expiresAt: 0 });
    // Resubscribed from lastSeq, the publish resent with its id, in one batch.
    expect(ws2.sent.slice(1)).toMatchObject([
      { type: "subscribe", channel: "chat.1", lastSeq: 9 },
      { type: "publish", id, channel: "chat.1" },
    ]);
    ws2.deliver({ type: "ack", id, channel: "chat.1", seq: 10, timestamp: 5 });
    ws2.deliver({ type: "ack", id, channel: "chat.1", seq: 10, timestamp: 5 });
    await expect(p).resolves.toEqual({ id, channel: "chat.1", seq: 10, timestamp: 5 });
    expect(c.pendingPublishes).toBe(0);
    expect(sub.ended).toBe(false);
    c.close();
  });

  it("retries a publish after a transient error with the same id, and rejects on a final one", async () => {
    const { c, ws } = await setup();
    const p = c.publish("chat.1", undefined, 1);
    await tick();
    const id = ws.last("publish").id;
    expect(id).toMatch(/^[0-9a-f]{32}$/);
    ws.deliver({ type: "error", code: "rate_limited", message: "slow down", ref: id, channel: "chat.1" });
    await tick(20);
    expect(ws.sent.filter((f) => f.type === "publish" && f.id === id)).toHaveLength(2);
    ws.deliver({ type: "error", code: "forbidden", message: "no", ref: id, channel: "chat.1" });
    await expect(p).rejects.toMatchObject({ code: "forbidden" });
    expect(c.pendingPublishes).toBe(0);
    c.close();
  });

  it("a heartbeat timeout drops a silent connection and reconnects", async () => {
    FakeSocket.all = [];
    const c = new HeraldClient({
      url: "ws://server/ws",
      token: async () => "t",
      WebSocket: FakeSocket as unknown as WebSocketConstructor,
      backoffMin: 1,
      pingInterval: 10,
      pongTimeout: 10,
    });
    const connected = c.connect();
    await tick();
    const ws = FakeSocket.all[0];
    ws.deliver({ type: "auth_ok", id: ws.last("auth").id, connectionId: "c1", userId: "u", expiresAt: 0 });
    await connected;
    await tick(60);
    expect(ws.sent.some((f) => f.type === "ping")).toBe(true);
    expect(ws.closedWith).toBeDefined();
    expect(FakeSocket.all.length).toBeGreaterThan(1);
    c.close();
  });

  it("history and presence requests are sent again after a reconnect", async () => {
    const { c, ws } = await setup();
    const h = c.history("chat.1", { before: 10, limit: 2 });
    await tick();
    const hid = ws.last("history").id;
    expect(ws.last("history")).toMatchObject({ channel: "chat.1", before: 10, limit: 2 });
    ws.serverClose(1012);
    await tick(30);
    const ws2 = FakeSocket.all[1];
    ws2.deliver({ type: "auth_ok", id: ws2.last("auth").id, connectionId: "c2", userId: "u", expiresAt: 0 });
    expect(ws2.last("history").id).toBe(hid);
    ws2.deliver({ type: "history_page", id: hid, channel: "chat.1", seq: 12, oldestSeq: 1, messages: [] });
    await expect(h).resolves.toMatchObject({ seq: 12 });
    c.sendTyping("chat.1");
    expect(ws2.last("typing")).toEqual({ type: "typing", channel: "chat.1" });
    c.close();
  });
  it("unsubscribe, markRead and a subscription the server ends", async () => {
    const { c, ws } = await setup();
    const a = c.subscribe("chat.a", { receipts: true });
    const b = c.subscribe("chat.b");
    const ends: (Error | undefined)[] = [];
    b.on("end", (e) => ends.push(e));
    await tick();
    const sa = ws.sent.find((f) => f.type === "subscribe" && f.channel === "chat.a")!;
    expect(sa).toMatchObject({ receipts: true });
    ws.deliver({ type: "subscribed", id: sa.id, channel: "chat.a", seq: 8, recovered: false, readSeq: 0, unread: 8 });
    c.markRead("chat.a", 6);
    c.markRead("chat.a", 5); // behind what was reported: nothing
    expect(ws.sent.filter((f) => f.type === "receipt")).toEqual([{ type: "receipt", channel: "chat.a", seq: 6, status: "read" }]);
    // A refreshed token no longer grants chat.b: error with channel, no ref.
    ws.deliver({ type: "error", code: "forbidden", message: "not granted", channel: "chat.b" });
    expect(ends).toHaveLength(1);
    expect(ends[0]).toMatchObject({ code: "forbidden" });
    await expect(b.ready).rejects.toMatchObject({ code: "forbidden" });
    expect(() => c.subscribe("chat.b")).not.toThrow(); // it is gone, so subscribing again works

    const gotA: number[] = [];
    a.on("message", (m) => gotA.push(m.seq));
    const done = a.unsubscribe();
    const u = ws.last("unsubscribe");
    expect(u.channel).toBe("chat.a");
    ws.deliver(msg(9, "chat.a")); // after unsubscribe: not delivered
    ws.deliver({ type: "unsubscribed", id: u.id, channel: "chat.a" });
    await done;
    expect(a.ended).toBe(true);
    expect(gotA).toEqual([]);
    c.close();
  });
});
