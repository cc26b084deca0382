// The client's protocol logic against a scripted in-memory WebSocket: what
// it sends and how it reacts to frames and close codes.
import { describe, expect, it } from "vitest";
import {
  type Environment,
  type EnvironmentEvent,
  HeraldClient,
  type HeraldClientOptions,
  type PublishStateEvent,
  type WebSocketConstructor,
} from "../src/client.js";
import type { MessageFrame } from "../src/frames.js";
import { FakeSocket, tick } from "./fakesocket.js";

async function setup(tokens: string[] = ["t1", "t2", "t3", "t4"], extra: Partial<HeraldClientOptions> = {}) {
  FakeSocket.all = [];
  let n = 0;
  const c = new HeraldClient({
    url: "ws://server/ws",
    fallbackUrls: ["ws://other/ws"],
    token: async () => tokens[n++] ?? "tN",
    WebSocket: FakeSocket as unknown as WebSocketConstructor,
    SSE: FakeSocket as unknown as WebSocketConstructor, // a fallback stays in memory too
    backoffMin: 1,
    backoffMax: 4,
    ...extra,
  });
  const connected = c.connect();
  await tick();
  const ws = FakeSocket.all[0];
  const auth = ws.last("auth");
  ws.deliver({ type: "auth_ok", id: auth.id, connectionId: "c1", userId: "u", expiresAt: 0 });
  await connected;
  return { c, ws };
}

/** FakeEnvironment is a scripted host: fire() sends online and visibilitychange events. */
class FakeEnvironment implements Environment {
  visible = "visible";
  network = true;
  listeners = new Map<EnvironmentEvent, Set<() => void>>();

  addEventListener(type: EnvironmentEvent, fn: () => void): () => void {
    if (!this.listeners.has(type)) this.listeners.set(type, new Set());
    this.listeners.get(type)!.add(fn);
    return () => this.listeners.get(type)!.delete(fn);
  }

  visibilityState(): string {
    return this.visible;
  }

  online(): boolean {
    return this.network;
  }

  setOnline(v: boolean): void {
    this.network = v;
    this.fire(v ? "online" : "offline");
  }

  fire(type: EnvironmentEvent): void {
    for (const fn of this.listeners.get(type) ?? []) fn();
  }

  setVisible(v: boolean): void {
    this.visible = v ? "visible" : "hidden";
    this.fire("visibilitychange");
  }
}

/** authOK answers the auth of ws. */
function authOK(ws: FakeSocket, userId = "u"): void {
  ws.deliver({ type: "auth_ok", id: ws.last("auth").id, connectionId: "c", userId, expiresAt: 0 });
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

describe("HeraldClient environment: online and visibility", () => {
  it("reconnects at once on online and on visible, skipping the backoff wait", async () => {
    const env = new FakeEnvironment();
    const { c, ws } = await setup(undefined, { environment: env, backoffMin: 60000, backoffMax: 60000, random: () => 1 });
    env.fire("online"); // connected: nothing to do
    await tick();
    expect(FakeSocket.all).toHaveLength(1);
    ws.serverClose(1012);
    await tick(20);
    expect(c.state).toBe("disconnected");
    expect(FakeSocket.all).toHaveLength(1); // waiting out a 60 s backoff
    env.fire("online");
    await tick();
    expect(FakeSocket.all).toHaveLength(2);
    const ws2 = FakeSocket.all[1];
    authOK(ws2);
    expect(c.state).toBe("connected");
    ws2.serverClose(1012);
    await tick(20);
    expect(FakeSocket.all).toHaveLength(2);
    env.setVisible(true);
    await tick();
    expect(FakeSocket.all).toHaveLength(3);
    c.close();
    expect(env.listeners.get("online")?.size).toBe(0); // close removes its listeners
  });

  it("drops the connection on offline, makes no attempt until online, then resumes and sends what was typed", async () => {
    const env = new FakeEnvironment();
    const { c, ws } = await setup(undefined, { environment: env, backoffMin: 10, backoffMax: 10 });
    const sub = c.subscribe("chat.1", { lastSeq: 2 });
    await tick();
    ws.deliver({ type: "subscribed", id: ws.last("subscribe").id, channel: "chat.1", seq: 2, recovered: true });
    env.setOnline(false);
    expect(ws.closedWith).toBe(1000);
    expect(c.state).toBe("disconnected");
    const p = c.publish("chat.1", "e", "typed offline");
    await tick(60); // several backoff periods: still no attempt
    expect(FakeSocket.all).toHaveLength(1);
    expect(sub.ended).toBe(false);
    env.setVisible(false);
    env.setVisible(true); // visible, but still offline: stays closed
    await tick(20);
    expect(FakeSocket.all).toHaveLength(1);
    env.setOnline(true);
    await tick();
    expect(FakeSocket.all).toHaveLength(2);
    const ws2 = FakeSocket.all[1];
    authOK(ws2);
    expect(ws2.sent.slice(1)).toMatchObject([
      { type: "subscribe", channel: "chat.1", lastSeq: 2 },
      { type: "publish", payload: "typed offline" },
    ]);
    ws2.deliver({ type: "ack", id: ws2.last("publish").id, channel: "chat.1", seq: 3, timestamp: 1 });
    await expect(p).resolves.toMatchObject({ seq: 3 });
    c.close();
  });

  it("starts without an attempt when the device is offline", async () => {
    const env = new FakeEnvironment();
    env.network = false;
    FakeSocket.all = [];
    const c = new HeraldClient({ url: "ws://x/ws", token: async () => "t", WebSocket: FakeSocket as unknown as WebSocketConstructor, environment: env });
    const done = c.connect();
    await tick(20);
    expect(FakeSocket.all).toHaveLength(0);
    env.setOnline(true);
    await tick();
    expect(FakeSocket.all).toHaveLength(1);
    authOK(FakeSocket.all[0]);
    await done;
    c.close();
  });

  it("closes with 1000 while hidden past the grace period and resumes from lastSeq when visible", async () => {
    const env = new FakeEnvironment();
    const { c, ws } = await setup(undefined, { environment: env, hiddenGrace: 30 });
    const sub = c.subscribe("chat.1", { lastSeq: 3 });
    const got: number[] = [];
    sub.on("message", (m) => got.push(m.seq));
    await tick();
    ws.deliver({ type: "subscribed", id: ws.last("subscribe").id, channel: "chat.1", seq: 5, recovered: true }, msg(4), msg(5));
    // Hidden, then visible within the grace period: nothing happens.
    env.setVisible(false);
    await tick(10);
    env.setVisible(true);
    await tick(40);
    expect(ws.closedWith).toBeUndefined();
    // Hidden past the grace period: the client closes with 1000 itself.
    env.setVisible(false);
    await tick(10);
    expect(ws.closedWith).toBeUndefined();
    await tick(40);
    expect(ws.closedWith).toBe(1000);
    expect(c.state).toBe("disconnected");
    const p = c.publish("chat.1", "e", "typed while hidden");
    env.fire("online"); // still hidden: stays closed
    await tick(40);
    expect(FakeSocket.all).toHaveLength(1);
    expect(sub.ended).toBe(false);
    expect(c.pendingPublishes).toBe(1);
    // Visible again: reconnects at once, resumes from lastSeq, sends the publish.
    env.setVisible(true);
    await tick();
    expect(FakeSocket.all).toHaveLength(2);
    const ws2 = FakeSocket.all[1];
    authOK(ws2);
    const pub = ws2.last("publish");
    expect(ws2.sent.slice(1)).toMatchObject([
      { type: "subscribe", channel: "chat.1", lastSeq: 5 },
      { type: "publish", payload: "typed while hidden" },
    ]);
    ws2.deliver(
      { type: "subscribed", id: ws2.last("subscribe").id, channel: "chat.1", seq: 6, recovered: true },
      { type: "ack", id: pub.id, channel: "chat.1", seq: 6, timestamp: 1 },
      msg(5),
      msg(6),
    );
    await expect(p).resolves.toMatchObject({ seq: 6 });
    expect(got).toEqual([4, 5, 6]);
    expect(c.state).toBe("connected");
    c.close();
  });

  it("a client started while hidden waits for visible before it connects", async () => {
    FakeSocket.all = [];
    const env = new FakeEnvironment();
    env.visible = "hidden";
    const c = new HeraldClient({
      url: "ws://server/ws",
      token: async () => "t",
      WebSocket: FakeSocket as unknown as WebSocketConstructor,
      environment: env,
      hiddenGrace: 10,
    });
    const connected = c.connect();
    await tick(5);
    expect(FakeSocket.all).toHaveLength(1); // within the grace period it connects
    authOK(FakeSocket.all[0]);
    await connected;
    await tick(30);
    expect(FakeSocket.all[0].closedWith).toBe(1000);
    env.setVisible(true);
    await tick();
    expect(FakeSocket.all).toHaveLength(2);
    c.close();
  });
});

describe("HeraldClient message states, state, ops and receipts", () => {
  it("reports sending, sent, delivered and read for own publishes from receipts of other users", async () => {
    const { c, ws } = await setup();
    const sub = c.subscribe("chat.1", { receipts: true });
    await tick();
    ws.deliver({ type: "subscribed", id: ws.last("subscribe").id, channel: "chat.1", seq: 6, recovered: false });
    await sub.ready;
    const events: PublishStateEvent[] = [];
    c.on("publish_state", (e) => events.push(e));
    const p1 = c.publish("chat.1", "e", "one");
    const p2 = c.publish("chat.1", "e", "two");
    await tick();
    const [id1, id2] = ws.sent.filter((f) => f.type === "publish").map((f) => (f as { id: string }).id);
    expect(events.map((e) => [e.id, e.state])).toEqual([
      [id1, "sending"],
      [id2, "sending"],
    ]);
    ws.deliver({ type: "ack", id: id1, channel: "chat.1", seq: 7, timestamp: 1 }, { type: "ack", id: id2, channel: "chat.1", seq: 8, timestamp: 2 });
    await Promise.all([p1, p2]);
    expect(events.slice(2).map((e) => [e.seq, e.state])).toEqual([
      [7, "sent"],
      [8, "sent"],
    ]);
    events.length = 0;
    // The user's own positions (another device) do not count.
    ws.deliver({ type: "receipts", channel: "chat.1", delivered: { u: 8 }, read: { u: 8 } });
    expect(events).toEqual([]);
    ws.deliver({ type: "receipts", channel: "chat.1", delivered: { bob: 7 } });
    expect(events).toEqual([{ id: id1, channel: "chat.1", seq: 7, state: "delivered", delivered: 1, read: 0 }]);
    events.length = 0;
    // Read implies delivered; a jump from sent to read reports delivered first.
    ws.deliver({ type: "receipts", channel: "chat.1", read: { carol: 8 } });
    expect(events.map((e) => [e.seq, e.state, e.delivered, e.read])).toEqual([
      [7, "read", 2, 1],
      [8, "delivered", 1, 1],
      [8, "read", 1, 1],
    ]);
    expect(c.receiptCounts("chat.1", 7)).toEqual({ delivered: 2, read: 1 });
    expect(c.receiptCounts("chat.1", 8)).toEqual({ delivered: 1, read: 1 });
    // Positions never move back.
    ws.deliver({ type: "receipts", channel: "chat.1", delivered: { bob: 3 } });
    expect(sub.delivered.get("bob")).toBe(7);
    c.close();
  });

  it("setState goes through the outbox, and subscription.state keeps the newest write of each key", async () => {
    const { c, ws } = await setup();
    const sub = c.subscribe("doc.1", { lastSeq: 5, state: true });
    const changes: [string, unknown, number][] = [];
    sub.on("state_changed", (ch) => changes.push([ch.key, ch.value, ch.seq]));
    await tick();
    expect(ws.last("subscribe")).toMatchObject({ channel: "doc.1", lastSeq: 5, state: true });
    ws.deliver(
      { type: "subscribed", id: ws.last("subscribe").id, channel: "doc.1", seq: 10, recovered: true },
      { type: "state", channel: "doc.1", seq: 10, entries: { title: { value: "A", seq: 8 }, cursor: { value: 1, seq: 9 } } },
    );
    const snap = () => Object.fromEntries([...sub.state].map(([k, e]) => [k, e.value]));
    expect(snap()).toEqual({ title: "A", cursor: 1 });
    const st = (seq: number, key: string, value: unknown): MessageFrame => ({ ...msg(seq, "doc.1"), op: "state", event: key, payload: value as null });
    // The replay: writes the snapshot already holds are not applied again.
    ws.deliver(st(6, "title", "old"), st(7, "gone", "x"), st(8, "title", "A"), msg(9, "doc.1"), msg(10, "doc.1"));
    expect(snap()).toEqual({ title: "A", cursor: 1 });
    ws.deliver(st(11, "title", "B"), st(12, "cursor", null));
    expect(snap()).toEqual({ title: "B" });
    expect(sub.lastSeq).toBe(12);

    const p = c.setState("doc.1", "title", "C");
    await tick();
    const f = ws.last("state_set");
    expect(f).toMatchObject({ channel: "doc.1", key: "title", value: "C" });
    expect(c.pendingPublishes).toBe(1);
    ws.serverClose(1012); // resent with the same id after a reconnect
    await tick(30);
    const ws2 = FakeSocket.all[1];
    authOK(ws2);
    expect(ws2.last("state_set").id).toBe(f.id);
    ws2.deliver({ type: "ack", id: f.id, channel: "doc.1", seq: 13, timestamp: 1 });
    await expect(p).resolves.toMatchObject({ seq: 13 });
    // A snapshot after a long absence replaces what it covers.
    ws2.deliver(
      { type: "subscribed", id: ws2.last("subscribe").id, channel: "doc.1", seq: 30, recovered: false },
      { type: "snapshot_required", channel: "doc.1", seq: 30, oldestSeq: 25, entries: { title: { value: "D", seq: 20 }, mode: { value: "x", seq: 29 } } },
    );
    expect(snap()).toEqual({ title: "D", mode: "x" });
    expect(changes).toEqual([
      ["title", "A", 8],
      ["cursor", 1, 9],
      ["title", "B", 11],
      ["cursor", null, 12],
      ["title", "D", 20],
      ["mode", "x", 29],
    ]);
    c.close();
  });

  it("edit, remove, react and unreact publish op entries with a target", async () => {
    const { c, ws } = await setup();
    const ps = [c.edit("chat.1", 3, { text: "fixed" }), c.remove("chat.1", 4), c.react("chat.1", 3, "👍"), c.unreact("chat.1", 3, "👍")];
    await tick();
    const sent = ws.sent.filter((f) => f.type === "publish");
    expect(sent).toEqual([
      { type: "publish", id: expect.any(String), channel: "chat.1", op: "edit", target: 3, payload: { text: "fixed" } },
      { type: "publish", id: expect.any(String), channel: "chat.1", op: "delete", target: 4 },
      { type: "publish", id: expect.any(String), channel: "chat.1", op: "react", target: 3, payload: "👍" },
      { type: "publish", id: expect.any(String), channel: "chat.1", op: "unreact", target: 3, payload: "👍" },
    ]);
    sent.forEach((f, i) => ws.deliver({ type: "ack", id: (f as { id: string }).id, channel: "chat.1", seq: 10 + i, timestamp: 0 }));
    expect((await Promise.all(ps)).map((a) => a.seq)).toEqual([10, 11, 12, 13]);
    await expect(c.edit("chat.1", 0, "x")).rejects.toThrow(/target/);
    c.close();
  });

  it("markDelivered reports the highest delivered position, read included, and again after a reconnect", async () => {
    const { c, ws } = await setup();
    c.subscribe("chat.1", { receipts: true });
    await tick();
    ws.deliver({ type: "subscribed", id: ws.last("subscribe").id, channel: "chat.1", seq: 20, recovered: false });
    c.markDelivered("chat.1", 5);
    c.markDelivered("chat.1", 4); // behind: nothing
    c.markRead("chat.1", 6);
    c.markDelivered("chat.1", 6); // read implies delivered: nothing
    c.markDelivered("chat.1", 8);
    c.markDelivered("chat.2", 8); // not subscribed: nothing
    const receipts = (w: FakeSocket) => w.sent.filter((f) => f.type === "receipt");
    expect(receipts(ws)).toEqual([
      { type: "receipt", channel: "chat.1", seq: 5, status: "delivered" },
      { type: "receipt", channel: "chat.1", seq: 6, status: "read" },
      { type: "receipt", channel: "chat.1", seq: 8, status: "delivered" },
    ]);
    ws.serverClose(1012);
    await tick(30);
    const ws2 = FakeSocket.all[1];
    authOK(ws2);
    ws2.deliver({ type: "subscribed", id: ws2.last("subscribe").id, channel: "chat.1", seq: 20, recovered: true });
    expect(receipts(ws2)).toEqual([
      { type: "receipt", channel: "chat.1", seq: 6, status: "read" },
      { type: "receipt", channel: "chat.1", seq: 8, status: "delivered" },
    ]);
    c.close();
  });

  it("presence: subscribes with presence, and the presence_state after a reconnect replaces the view", async () => {
    const { c, ws } = await setup();
    const sub = c.subscribe("chat.1", { presence: true });
    const views: string[][] = [];
    sub.on("presence", (v) => views.push([...v.members.keys()]));
    await tick();
    const s = ws.last("subscribe");
    expect(s).toMatchObject({ channel: "chat.1", presence: true });
    ws.deliver(
      { type: "subscribed", id: s.id, channel: "chat.1", seq: 0, recovered: false },
      { type: "presence_state", channel: "chat.1", count: 2, members: [{ userId: "u", connections: 1 }, { userId: "v", connections: 1 }] },
      { type: "presence_diff", channel: "chat.1", count: 3, joins: [{ userId: "w", connections: 1 }] },
    );
    expect(sub.count).toBe(3);
    ws.serverClose(1012);
    await tick(30);
    // While away, the last view stays.
    expect([...sub.members.keys()]).toEqual(["u", "v", "w"]);
    const ws2 = FakeSocket.all[1];
    authOK(ws2);
    const s2 = ws2.last("subscribe");
    expect(s2).toMatchObject({ channel: "chat.1", presence: true });
    ws2.deliver(
      { type: "subscribed", id: s2.id, channel: "chat.1", seq: 0, recovered: true },
      { type: "presence_state", channel: "chat.1", count: 2, members: [{ userId: "u", connections: 1 }, { userId: "x", connections: 2 }] },
    );
    expect([...sub.members.values()]).toEqual([
      { userId: "u", connections: 1 },
      { userId: "x", connections: 2 },
    ]);
    expect(sub.count).toBe(2);
    expect(views).toEqual([["u", "v"], ["u", "v", "w"], ["u", "x"]]);
    c.close();
  });
});
