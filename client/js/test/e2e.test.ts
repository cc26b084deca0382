// End to end: the SDK from Node against a real `herald serve`, built once
// from this repository.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { HeraldClient, type PublishStateEvent, type WebSocketConstructor } from "../src/client.js";
import type { MessageFrame } from "../src/frames.js";
import { MessageList } from "../src/messages.js";
import type { PresenceView } from "../src/presence.js";
import type { Ack } from "../src/outbox.js";
import { MemoryStorage } from "../src/storage.js";
import type { Transport } from "../src/transports.js";
import { HeraldServer, until } from "./herald.js";

/** The server of the current describe block: each transport gets a fresh one. */
let herald: HeraldServer;

/** The transport the current describe block's clients use. */
let transport: Transport = "websocket";

function client(sub: string, storage = new MemoryStorage()): HeraldClient {
  return new HeraldClient({
    url: `ws://127.0.0.1:${herald.port}/ws`,
    token: async () => herald.mint(sub),
    WebSocket: WebSocket as unknown as WebSocketConstructor,
    transports: [transport],
    backoffMin: 50,
    backoffMax: 400,
    storage,
  });
}


// Every test runs over each transport: the SDK must behave the same.
describe.each(["websocket", "sse"] as const)("HeraldClient over %s against herald serve", (t) => {
  beforeAll(async () => {
    transport = t;
    herald = new HeraldServer();
    await herald.build();
  }, 240_000);

  afterAll(() => herald.cleanup());

  it("delivers each message once and in order to two clients", async () => {
    const alice = client("alice");
    const bob = client("bob");
    try {
      await Promise.all([alice.connect(), bob.connect()]);
      const got: Record<string, MessageFrame[]> = { alice: [], bob: [] };
      const sa = alice.subscribe("chat.order");
      const sb = bob.subscribe("chat.order");
      sa.on("message", (m) => got.alice.push(m));
      sb.on("message", (m) => got.bob.push(m));
      await Promise.all([sa.ready, sb.ready]);
      const acks: Ack[] = [];
      for (let i = 0; i < 5; i++) acks.push(await alice.publish("chat.order", "msg", { n: i }));
      acks.push(await bob.publish("chat.order", "msg", { n: 5 }));
      expect(acks.map((a) => a.seq)).toEqual([1, 2, 3, 4, 5, 6]);
      await until(() => got.alice.length >= 6 && got.bob.length >= 6, 5000, "six messages each");
      await new Promise((r) => setTimeout(r, 100)); // a duplicate would show up here
      for (const who of ["alice", "bob"]) {
        expect(got[who].map((m) => (m.payload as { n: number }).n)).toEqual([0, 1, 2, 3, 4, 5]);
        expect(got[who].map((m) => m.seq)).toEqual([1, 2, 3, 4, 5, 6]);
      }
      expect(got.bob[0].from).toBe("alice");
      expect(got.bob[0].id).toBe(acks[0].id);

      const page = await bob.history("chat.order", { after: 3 });
      expect(page.messages.map((m) => m.seq)).toEqual([4, 5, 6]);
      const pres = await bob.presence("chat.order");
      expect(pres.members?.map((m) => m.userId)).toEqual(["alice", "bob"]);
    } finally {
      alice.close();
      bob.close();
    }
  });

  it("rejects a publish the token does not grant, and stops on a refused first token", async () => {
    const alice = client("alice");
    try {
      await alice.connect();
      await expect(alice.publish("other.1", undefined, 1)).rejects.toMatchObject({ code: "forbidden" });
      expect(alice.pendingPublishes).toBe(0);
    } finally {
      alice.close();
    }
    const bad = new HeraldClient({
      url: `ws://127.0.0.1:${herald.port}/ws`,
      token: async () => "not-a-jwt",
      WebSocket: WebSocket as unknown as WebSocketConstructor,
      transports: [transport],
      backoffMin: 50,
    });
    await expect(bad.connect()).rejects.toMatchObject({ code: 4001 });
    expect(bad.state).toBe("closed");
  });

  it("after a server restart, every message arrives once and each publish is acked once", async () => {
    const aliceStore = new MemoryStorage();
    const alice = client("alice", aliceStore);
    const bob = client("bob");
    const states: string[] = [];
    bob.on("state", (e) => states.push(e.state));
    try {
      await Promise.all([alice.connect(), bob.connect()]);
      const got: MessageFrame[] = [];
      const sb = bob.subscribe("chat.restart");
      sb.on("message", (m) => got.push(m));
      await sb.ready;
      const ackEvents: Ack[] = [];
      alice.on("ack", (a) => ackEvents.push(a));

      const acked = await alice.publish("chat.restart", "msg", "before");
      // A publish on the wire when the server dies: the server is frozen
      // first, so that no ack can come back, then killed.
      herald.proc!.kill("SIGSTOP");
      const inFlight = alice.publish("chat.restart", "msg", "in-flight");
      await new Promise((r) => setTimeout(r, 100));
      expect(alice.pendingPublishes).toBe(1);
      await herald.kill();
      await until(() => alice.state !== "connected" && bob.state !== "connected", 5000, "both disconnected");
      // Publishes made while the server is down wait in the outbox and storage.
      const offline = [alice.publish("chat.restart", "msg", "offline-1"), alice.publish("chat.restart", "msg", "offline-2")];
      await until(() => alice.pendingPublishes === 3, 2000, "three publishes in the outbox");
      await alice.flush();
      expect(JSON.parse((await aliceStore.get("herald:outbox"))!)).toHaveLength(3);

      await herald.start();
      const acks = await Promise.all([inFlight, ...offline]);
      expect(acks.map((a) => a.seq)).toEqual([2, 3, 4]);
      await until(() => got.length >= 4, 10000, "bob to catch up");
      await new Promise((r) => setTimeout(r, 200));
      expect(got.map((m) => m.payload)).toEqual(["before", "in-flight", "offline-1", "offline-2"]);
      expect(got.map((m) => m.seq)).toEqual([1, 2, 3, 4]);
      expect(acked.seq).toBe(1);
      expect(ackEvents.map((a) => a.seq)).toEqual([1, 2, 3, 4]);
      expect(alice.pendingPublishes).toBe(0);
      await alice.flush();
      expect(await aliceStore.get("herald:outbox")).toBeFalsy();
      expect(states).toContain("disconnected");
      expect(bob.state).toBe("connected");
      expect(sb.lastSeq).toBe(4);
    } finally {
      alice.close();
      bob.close();
    }
  }, 30_000);

  it("a new client on the same storage resumes the outbox and each channel's lastSeq", async () => {
    const store = new MemoryStorage();
    const first = client("carol", store);
    await first.connect();
    const got1: MessageFrame[] = [];
    const s1 = first.subscribe("chat.reload");
    s1.on("message", (m) => got1.push(m));
    await s1.ready;
    await first.publish("chat.reload", "msg", "one");
    await until(() => got1.length === 1, 5000, "first message");
    await first.flush();
    first.close();

    // A "reload": the outbox holds a publish the page never saw acked.
    const other = client("dave");
    await other.connect();
    const two = await other.publish("chat.reload", "msg", "two", { id: "reload-0" });
    other.close();
    // The outbox of the reloaded page: a publish that was stored but whose
    // ack was lost (the server dedupes it and acks it again), and a new one.
    await store.set(
      "herald:outbox",
      JSON.stringify([
        { type: "publish", id: "reload-0", channel: "chat.reload", payload: "two" },
        { type: "publish", id: "reload-1", channel: "chat.reload", payload: "three" },
      ]),
    );

    const second = client("carol", store);
    const got2: MessageFrame[] = [];
    const acks: Ack[] = [];
    second.on("ack", (a) => acks.push(a));
    const s2 = second.subscribe("chat.reload");
    s2.on("message", (m) => got2.push(m));
    try {
      await second.connect();
      await s2.ready;
      await until(() => got2.length >= 2 && acks.length === 2, 5000, "the replay and the acks");
      await new Promise((r) => setTimeout(r, 100));
      expect(got2.map((m) => m.payload)).toEqual(["two", "three"]);
      expect(got2.map((m) => m.seq)).toEqual([2, 3]);
      expect(acks).toMatchObject([
        { id: "reload-0", seq: two.seq, timestamp: two.timestamp },
        { id: "reload-1", seq: 3 },
      ]);
    } finally {
      second.close();
    }
  });
  it("message states from receipts, channel state and op entries", async () => {
    const alice = client("alice");
    const bob = client("bob");
    try {
      await Promise.all([alice.connect(), bob.connect()]);
      const sa = alice.subscribe("chat.states", { receipts: true, state: true });
      const sb = bob.subscribe("chat.states", { receipts: true, state: true });
      const got: MessageFrame[] = [];
      sb.on("message", (m) => got.push(m));
      await Promise.all([sa.ready, sb.ready]);
      const states: PublishStateEvent[] = [];
      alice.on("publish_state", (e) => states.push(e));

      const ack = await alice.publish("chat.states", "msg", "hello");
      await until(() => got.length === 1, 5000, "bob gets the message");
      bob.markDelivered("chat.states", ack.seq);
      await until(() => states.some((e) => e.state === "delivered"), 5000, "delivered");
      bob.markRead("chat.states", ack.seq);
      await until(() => states.some((e) => e.state === "read"), 5000, "read");
      expect(states.map((e) => e.state)).toEqual(["sending", "sent", "delivered", "read"]);
      expect(states.every((e) => e.id === ack.id)).toBe(true);
      expect(alice.receiptCounts("chat.states", ack.seq)).toEqual({ delivered: 1, read: 1 });

      const st = await alice.setState("chat.states", "title", "Q4 plan");
      await until(() => sb.state.get("title")?.value === "Q4 plan", 5000, "bob's state");
      expect(sb.state.get("title")?.seq).toBe(st.seq);
      expect(sa.state.get("title")?.value).toBe("Q4 plan");

      const react = await bob.react("chat.states", ack.seq, "👍");
      const edit = await alice.edit("chat.states", ack.seq, "hello, edited");
      await until(() => got.length >= 4, 5000, "the op entries");
      expect(got.slice(2).map((m) => [m.seq, m.op, m.target, m.payload])).toEqual([
        [react.seq, "react", ack.seq, "👍"],
        [edit.seq, "edit", ack.seq, "hello, edited"],
      ]);
      await expect(bob.edit("chat.states", ack.seq, "not mine")).rejects.toMatchObject({ code: "forbidden" });
      const page = await bob.history("chat.states", { after: ack.seq - 1, limit: 1 });
      expect(page.messages[0]).toMatchObject({ seq: ack.seq, payload: "hello, edited", reactions: { "👍": { count: 1, users: ["bob"] } } });
      await alice.remove("chat.states", ack.seq);
      const after = await bob.history("chat.states", { after: ack.seq - 1, limit: 1 });
      expect(after.messages[0]).toMatchObject({ seq: ack.seq, deleted: true, payload: null });
    } finally {
      alice.close();
      bob.close();
    }
  }, 20_000);

  it("a MessageList folds live op entries into what history and a replay return", async () => {
    const alice = client("alice");
    const bob = client("bob");
    const carol = client("carol");
    const late = client("dave");
    try {
      await Promise.all([alice.connect(), bob.connect(), carol.connect(), late.connect()]);
      const c = "chat.fold";
      const sb = bob.subscribe(c, { lastSeq: 0 });
      const live = new MessageList(sb);
      await sb.ready;

      const m1 = await alice.publish(c, "msg", { text: "one" });
      const m2 = await alice.publish(c, "msg", { text: "two" });
      await bob.react(c, m1.seq, "👍");
      await carol.react(c, m1.seq, "👍");
      await carol.react(c, m1.seq, "🎉");
      await alice.edit(c, m1.seq, { text: "one, edited" });
      await bob.unreact(c, m1.seq, "👍");
      await alice.edit(c, m1.seq, { text: "one, edited twice" });
      await bob.react(c, m2.seq, "👀");
      const m3 = await bob.publish(c, "msg", { text: "three" });
      const last = await alice.remove(c, m2.seq);
      await until(() => sb.lastSeq === last.seq, 5000, "bob to get every op entry");

      expect(live.messages.map((m) => m.seq)).toEqual([m1.seq, m2.seq, m3.seq]);
      expect(live.get(m1.seq)).toMatchObject({
        payload: { text: "one, edited twice" },
        reactions: { "👍": { count: 1, users: ["carol"] }, "🎉": { count: 1, users: ["carol"] } },
      });
      expect(live.get(m2.seq)).toMatchObject({ payload: null, deleted: true });

      // The server's fold of the same messages, row for row.
      const page = await bob.history(c, { after: 0 });
      const folded = page.messages.filter((m) => m.op === undefined);
      expect(live.messages).toEqual(folded);

      // A client that replays the channel later gets the same rows, and so
      // does one that loads it from history.
      const sl = late.subscribe(c, { lastSeq: 0 });
      const replayed = new MessageList(sl);
      await until(() => sl.lastSeq === last.seq, 5000, "the replay");
      expect(replayed.messages).toEqual(folded);
      const fromHistory = new MessageList(carol.subscribe(c));
      await fromHistory.loadOlder(carol, 4);
      while (!fromHistory.complete) await fromHistory.loadOlder(carol, 4);
      expect(fromHistory.messages).toEqual(folded);
    } finally {
      for (const x of [alice, bob, carol, late]) x.close();
    }
  }, 20_000);

  it("presence members of two clients joining and leaving, with connection counts", async () => {
    const alice = client("alice");
    const bob1 = client("bob");
    const bob2 = client("bob");
    const c = "chat.presence";
    const view = (v: PresenceView) => [...v.members.values()].map((m) => `${m.userId}:${m.connections}`);
    try {
      await alice.connect();
      const sa = alice.subscribe(c, { presence: true });
      const events: PresenceView[] = [];
      sa.on("presence", (v) => events.push(v));
      await until(() => events.length > 0, 5000, "the first presence");
      expect(view(events[0])).toEqual(["alice:1"]);
      expect(sa.count).toBe(1);

      await Promise.all([bob1.connect(), bob2.connect()]);
      const sb1 = bob1.subscribe(c);
      await sb1.ready;
      await until(() => sa.members.has("bob"), 5000, "bob to join");
      const sb2 = bob2.subscribe(c);
      await sb2.ready;
      // A second device of a present user causes no diff; a presence request shows it.
      const pres = await alice.presence(c);
      expect(pres.members?.find((m) => m.userId === "bob")?.connections).toBe(2);
      expect(sa.count).toBe(2);
      expect(view(events.at(-1)!)).toEqual(["alice:1", "bob:1"]);

      bob1.close();
      bob2.close();
      await until(() => !sa.members.has("bob"), 5000, "bob to leave");
      expect(sa.count).toBe(1);
      expect(view(events.at(-1)!)).toEqual(["alice:1"]);
    } finally {
      alice.close();
      bob1.close();
      bob2.close();
    }
  }, 20_000);
});
