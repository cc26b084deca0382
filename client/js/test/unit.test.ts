import { describe, expect, it } from "vitest";
import { Backoff } from "../src/backoff.js";
import { Outbox } from "../src/outbox.js";
import { judgeSeq } from "../src/seq.js";
import { LocalStorage, MemoryStorage } from "../src/storage.js";
import type { PublishFrame } from "../src/frames.js";

const pub = (id: string, channel = "chat.1"): PublishFrame => ({ type: "publish", id, channel, payload: { id } });

describe("Backoff", () => {
  it.each([
    { name: "first ceiling is min", attempts: 0, want: 100 },
    { name: "doubles per attempt", attempts: 3, want: 800 },
    { name: "capped at max", attempts: 20, want: 1000 },
  ])("$name", ({ attempts, want }) => {
    const b = new Backoff(100, 1000, (n) => n);
    for (let i = 0; i < attempts; i++) b.next();
    expect(b.ceiling()).toBe(want);
    expect(b.next()).toBe(want);
  });

  it("full jitter draws from [0, ceiling)", () => {
    const seen: number[] = [];
    const b = new Backoff(100, 1000, (n) => {
      seen.push(n);
      return n / 2;
    });
    expect([b.next(), b.next(), b.next()]).toEqual([50, 100, 200]);
    expect(seen).toEqual([100, 200, 400]);
    const real = new Backoff(100, 1000);
    for (let i = 0; i < 50; i++) {
      const d = real.next();
      expect(d).toBeGreaterThanOrEqual(0);
      expect(d).toBeLessThan(1000);
    }
  });

  it("reset starts over", () => {
    const b = new Backoff(100, 1000, (n) => n);
    b.next();
    b.next();
    b.reset();
    expect(b.next()).toBe(100);
  });
});

describe("judgeSeq", () => {
  it.each([
    { name: "next seq is delivered", last: 4, seq: 5, want: "deliver" },
    { name: "same seq is a duplicate", last: 5, seq: 5, want: "duplicate" },
    { name: "older seq is a duplicate", last: 9, seq: 2, want: "duplicate" },
    { name: "a skipped seq is a gap", last: 5, seq: 7, want: "gap" },
    { name: "first message after 0", last: 0, seq: 1, want: "deliver" },
  ])("$name", ({ last, seq, want }) => {
    expect(judgeSeq(last, seq)).toBe(want);
  });
});

describe("Outbox", () => {
  it("keeps order and resends everything with the same ids on a new connection", () => {
    const o = new Outbox();
    o.add(pub("a"));
    o.add(pub("b"));
    o.add(pub("c", "chat.2"));
    expect(o.sendAll(1).map((f) => f.id)).toEqual(["a", "b", "c"]);
    expect(o.sendAll(2).map((f) => f.id)).toEqual(["a", "b", "c"]);
    expect(o.all().every((p) => p.gen === 2)).toBe(true);
  });

  it("dedupes acks: the second ack for an id finds nothing", () => {
    const o = new Outbox();
    o.add(pub("a"));
    expect(o.take("chat.1", "a")?.frame.id).toBe("a");
    expect(o.take("chat.1", "a")).toBeUndefined();
    expect(o.size).toBe(0);
  });

  it("an id is per channel, and the same publish is added once", () => {
    const o = new Outbox();
    expect(o.add(pub("a"))).toBeDefined();
    expect(o.add(pub("a"))).toBeUndefined();
    expect(o.add(pub("a", "chat.2"))).toBeDefined();
    expect(o.size).toBe(2);
    expect(o.get(undefined, "a")?.frame.channel).toBe("chat.1");
  });

  it("sendDue sends only entries whose retry time came", () => {
    const o = new Outbox();
    const a = o.add(pub("a"))!;
    const b = o.add(pub("b"))!;
    o.sendAll(1);
    a.gen = 0;
    a.retryAt = 1000;
    b.gen = 0;
    b.retryAt = 3000;
    let due = o.sendDue(2, 1500);
    expect(due.frames.map((f) => f.id)).toEqual(["a"]);
    expect(due.nextAt).toBe(3000);
    due = o.sendDue(2, 1500);
    expect(due.frames).toEqual([]);
    due = o.sendDue(2, 3000);
    expect(due.frames.map((f) => f.id)).toEqual(["b"]);
    expect(due.nextAt).toBe(Infinity);
  });

  it("serializes and restores in order, ignoring junk", () => {
    const o = new Outbox();
    o.add(pub("a"));
    o.add(pub("b"));
    const o2 = new Outbox();
    expect(o2.restore(o.serialize())).toBe(2);
    expect(o2.all().map((p) => p.frame.id)).toEqual(["a", "b"]);
    expect(o2.all().every((p) => p.gen === 0)).toBe(true);
    expect(new Outbox().restore("not json")).toBe(0);
    expect(new Outbox().restore('[{"type":"ping"}, 3, null]')).toBe(0);
  });
});

describe("Storage", () => {
  const web = () => {
    const m = new Map<string, string>();
    return {
      getItem: (k: string) => m.get(k) ?? null,
      setItem: (k: string, v: string) => void m.set(k, v),
      removeItem: (k: string) => void m.delete(k),
    };
  };
  it.each([
    { name: "memory", make: () => new MemoryStorage() },
    { name: "localStorage", make: () => new LocalStorage(web()) },
  ])("$name gets, sets and deletes", async ({ make }) => {
    const s = make();
    expect(await s.get("k")).toBeFalsy();
    await s.set("k", "v1");
    await s.set("k", "v2");
    expect(await s.get("k")).toBe("v2");
    await s.delete("k");
    await s.delete("missing");
    expect(await s.get("k")).toBeFalsy();
  });

  it("LocalStorage without a localStorage throws", () => {
    expect(() => new LocalStorage()).toThrow(/no localStorage/);
  });
});
