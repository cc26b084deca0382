// Aggregated presence: a subscription's members and count from
// presence_state and presence_diff frames (PROTOCOL.md §14).
import { describe, expect, it } from "vitest";
import { dispatch, type FrameHandler } from "../src/dispatch.js";
import type { PresenceDiffFrame, PresenceMember, PresenceStateFrame } from "../src/frames.js";
import type { PresenceView } from "../src/presence.js";
import { Subscription } from "../src/subscription.js";

const ch = "chat.1";
const handler: FrameHandler = {
  saveSeq: () => {},
  resubscribe: () => {},
  send: () => {},
  acked: () => {},
  answered: () => false,
  receipts: () => {},
  unsubscribed: () => {},
};

function state(count: number, members?: PresenceMember[]): PresenceStateFrame {
  const f: PresenceStateFrame = { type: "presence_state", channel: ch, count };
  if (members) f.members = members;
  return f;
}

function diff(count: number, joins?: PresenceMember[], leaves?: string[]): PresenceDiffFrame {
  return { type: "presence_diff", channel: ch, count, joins, leaves };
}

const m = (userId: string, connections = 1): PresenceMember => ({ userId, connections });

/** view is a presence event as plain data. */
function plain(v: PresenceView): { count: number; countOnly: boolean; members: [string, number][] } {
  return { count: v.count, countOnly: v.countOnly, members: [...v.members.values()].map((x) => [x.userId, x.connections]) };
}

describe("Subscription presence", () => {
  const cases: {
    name: string;
    frames: (PresenceStateFrame | PresenceDiffFrame)[];
    want: { count: number; countOnly: boolean; members: [string, number][] };
    events: number;
  }[] = [
    {
      name: "a state lists the members with their connection counts",
      frames: [state(2, [m("alice"), m("bob", 2)])],
      want: { count: 2, countOnly: false, members: [["alice", 1], ["bob", 2]] },
      events: 1,
    },
    {
      name: "a diff adds joins and removes leaves",
      frames: [state(2, [m("alice"), m("bob", 2)]), diff(2, [m("carol")], ["bob"])],
      want: { count: 2, countOnly: false, members: [["alice", 1], ["carol", 1]] },
      events: 2,
    },
    {
      name: "a join replaces the member: a second device",
      frames: [state(1, [m("alice")]), diff(1, [m("alice", 2)])],
      want: { count: 1, countOnly: false, members: [["alice", 2]] },
      events: 2,
    },
    {
      name: "a diff that repeats the state changes nothing and emits nothing",
      frames: [state(2, [m("alice"), m("bob")]), diff(2, [m("bob")], ["dave"])],
      want: { count: 2, countOnly: false, members: [["alice", 1], ["bob", 1]] },
      events: 1,
    },
    {
      name: "a new state after a reconnect replaces everything",
      frames: [state(2, [m("alice"), m("bob")]), diff(3, [m("carol")]), state(2, [m("alice"), m("dave")])],
      want: { count: 2, countOnly: false, members: [["alice", 1], ["dave", 1]] },
      events: 3,
    },
    {
      name: "an empty channel's state is still an event",
      frames: [state(0, [])],
      want: { count: 0, countOnly: false, members: [] },
      events: 1,
    },
    {
      name: "count only: a state without members, then diffs with counts",
      frames: [state(2, [m("alice"), m("bob")]), state(1500), diff(1501), diff(1501)],
      want: { count: 1501, countOnly: true, members: [] },
      events: 3,
    },
    {
      name: "back under the limit, a state lists members again",
      frames: [state(1500), diff(1400, [m("x")]), state(2, [m("alice"), m("bob")])],
      want: { count: 2, countOnly: false, members: [["alice", 1], ["bob", 1]] },
      events: 3,
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const sub = new Subscription(ch, { presence: true }, async () => {});
      const events: PresenceView[] = [];
      const raw: string[] = [];
      sub.on("presence", (v) => events.push(v));
      sub.on("presence_state", (f) => raw.push(f.type));
      sub.on("presence_diff", (f) => raw.push(f.type));
      for (const f of c.frames) dispatch(f, sub, handler);
      expect(plain({ count: sub.count, countOnly: sub.countOnly, members: sub.members })).toEqual(c.want);
      expect(events).toHaveLength(c.events);
      expect(plain(events.at(-1)!)).toEqual(c.want);
      expect(raw).toEqual(c.frames.map((f) => f.type)); // the raw events still come
    });
  }

  it("each event is a copy that later frames do not change", () => {
    const sub = new Subscription(ch, { presence: true }, async () => {});
    const events: PresenceView[] = [];
    sub.on("presence", (v) => events.push(v));
    dispatch(state(1, [m("alice")]), sub, handler);
    dispatch(diff(2, [m("bob")]), sub, handler);
    expect(plain(events[0]).members).toEqual([["alice", 1]]);
  });

  it("the answer to a presence request does not touch the subscription's view", () => {
    const sub = new Subscription(ch, { presence: true }, async () => {});
    dispatch(state(1, [m("alice")]), sub, handler);
    dispatch({ ...state(0, []), id: "q1" }, sub, handler);
    expect(sub.count).toBe(1);
  });
});
