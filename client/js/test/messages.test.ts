// MessageList: op entries folded live the way the server folds replays and
// history pages (hub/fold.go), history pages, and resets.
import { describe, expect, it } from "vitest";
import type { HistoryPageFrame, MessageFields, MessageFrame } from "../src/frames.js";
import { type ListMessage, MessageList, type MessageListChange } from "../src/messages.js";
import { Subscription } from "../src/subscription.js";
import type { HistoryOptions } from "../src/types.js";

const ch = "chat.1";

function msg(seq: number, payload: MessageFields["payload"], from = "alice", extra: Partial<MessageFields> = {}): MessageFrame {
  return { type: "message", channel: ch, seq, id: `m${seq}`, event: "msg", payload, timestamp: 1000 + seq, from, ...extra };
}

function op(seq: number, kind: "edit" | "delete" | "react" | "unreact", target: number, payload?: MessageFields["payload"], from = "alice"): MessageFrame {
  const m = msg(seq, payload ?? null, from, { op: kind, target, event: undefined });
  if (payload === undefined) delete (m as Partial<MessageFrame>).payload;
  return m;
}

function setup(): { sub: Subscription; list: MessageList; changes: MessageListChange[] } {
  const sub = new Subscription(ch, {}, async () => {});
  const list = new MessageList(sub);
  const changes: MessageListChange[] = [];
  list.on("change", (c) => changes.push(c));
  return { sub, list, changes };
}

/** row is the shape the server gives a message of seq in a page, with changes. */
function row(seq: number, payload: MessageFields["payload"], extra: Partial<ListMessage> = {}, from = "alice"): ListMessage {
  return { seq, id: `m${seq}`, event: "msg", payload, timestamp: 1000 + seq, from, ...extra };
}

describe("MessageList folds live op entries", () => {
  const cases: { name: string; frames: MessageFrame[]; want: ListMessage[] }[] = [
    { name: "plain messages in seq order", frames: [msg(1, "a"), msg(2, "b", "bob")], want: [row(1, "a"), row(2, "b", {}, "bob")] },
    {
      name: "an edit replaces the payload and sets editedAt; the op entry is no row",
      frames: [msg(1, "a"), op(2, "edit", 1, "a2")],
      want: [row(1, "a2", { editedAt: 1002 })],
    },
    {
      name: "the last edit wins",
      frames: [msg(1, "a"), op(2, "edit", 1, "a2"), msg(3, "c"), op(4, "edit", 1, "a3")],
      want: [row(1, "a3", { editedAt: 1004 }), row(3, "c")],
    },
    {
      name: "a delete leaves a tombstone and later ops change nothing",
      frames: [msg(1, "a"), op(2, "react", 1, "👍", "bob"), op(3, "edit", 1, "a2"), op(4, "delete", 1), op(5, "edit", 1, "a3"), op(6, "react", 1, "🎉", "bob")],
      want: [{ seq: 1, id: "m1", event: "msg", payload: null, timestamp: 1001, from: "alice", deleted: true }],
    },
    {
      name: "reactions: per key, each user once, in the order they reacted",
      frames: [msg(1, "a"), op(2, "react", 1, "👍", "bob"), op(3, "react", 1, "👍", "carol"), op(4, "react", 1, "👍", "bob"), op(5, "react", 1, "🎉", "alice")],
      want: [row(1, "a", { reactions: { "👍": { count: 2, users: ["bob", "carol"] }, "🎉": { count: 1, users: ["alice"] } } })],
    },
    {
      name: "unreact removes the user, and the key when none is left",
      frames: [msg(1, "a"), op(2, "react", 1, "👍", "bob"), op(3, "react", 1, "🎉", "bob"), op(4, "react", 1, "🎉", "carol"), op(5, "unreact", 1, "👍", "bob"), op(6, "unreact", 1, "🎉", "bob"), op(7, "unreact", 1, "🎉", "dave")],
      want: [row(1, "a", { reactions: { "🎉": { count: 1, users: ["carol"] } } })],
    },
    {
      name: "the last unreact drops the reactions field, as the server omits it",
      frames: [msg(1, "a"), op(2, "react", 1, "👍", "bob"), op(3, "unreact", 1, "👍", "bob")],
      want: [row(1, "a")],
    },
    {
      name: "an op whose target the list lacks is ignored",
      frames: [op(5, "edit", 1, "x"), msg(6, "b"), op(7, "react", 3, "👍", "bob")],
      want: [row(6, "b")],
    },
    {
      name: "state writes are no rows",
      frames: [msg(1, "a"), { ...msg(2, "Q4"), op: "state", event: "title" }],
      want: [row(1, "a")],
    },
    {
      name: "a replay: the folded message, then its op entries applied again, ends as folded",
      frames: [
        msg(1, "a3", "alice", { editedAt: 1004, reactions: { "👍": { count: 1, users: ["carol"] } } }),
        op(2, "edit", 1, "a2"),
        op(3, "react", 1, "👍", "bob"),
        op(4, "edit", 1, "a3"),
        op(5, "react", 1, "👍", "carol"),
        op(6, "unreact", 1, "👍", "bob"),
      ],
      want: [row(1, "a3", { editedAt: 1004, reactions: { "👍": { count: 1, users: ["carol"] } } })],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const { sub, list } = setup();
      for (const f of c.frames) sub.emit("message", f);
      expect(list.messages).toEqual(c.want);
    });
  }

  it("a summary that names 20 of 25 users moves the count for users it does not name", () => {
    const users = Array.from({ length: 20 }, (_, i) => `u${i}`);
    const { sub, list } = setup();
    sub.emit("message", msg(1, "a", "alice", { reactions: { "👍": { count: 25, users } } }));
    sub.emit("message", op(2, "react", 1, "👍", "new"));
    expect(list.get(1)?.reactions).toEqual({ "👍": { count: 26, users } });
    sub.emit("message", op(3, "unreact", 1, "👍", "hidden"));
    sub.emit("message", op(4, "unreact", 1, "👍", "u0"));
    expect(list.get(1)?.reactions).toEqual({ "👍": { count: 24, users: users.slice(1) } });
  });

  it("emits each change with the new row, and replaces rows instead of changing them", () => {
    const { sub, list, changes } = setup();
    sub.emit("message", msg(1, "a"));
    const first = list.get(1)!;
    const arr = list.messages;
    sub.emit("message", op(2, "edit", 1, "a2"));
    sub.emit("message", op(3, "unreact", 1, "👍", "bob")); // changes nothing: no event
    expect(changes).toEqual([
      { messages: [row(1, "a")], reset: false },
      { messages: [row(1, "a2", { editedAt: 1002 })], reset: false },
    ]);
    expect(first).toEqual(row(1, "a"));
    expect(list.messages).not.toBe(arr);
  });

  it("empties on snapshot_required and stops after detach", () => {
    const { sub, list, changes } = setup();
    sub.emit("message", msg(1, "a"));
    sub.emit("snapshot_required", { type: "snapshot_required", channel: ch, seq: 90, oldestSeq: 50 });
    expect(list.size).toBe(0);
    expect(changes.at(-1)).toEqual({ messages: [], reset: true });
    list.detach();
    sub.emit("message", msg(91, "b"));
    expect(list.size).toBe(0);
  });
});

function page(seq: number, oldestSeq: number, messages: MessageFields[]): HistoryPageFrame {
  return { type: "history_page", id: "h1", channel: ch, seq, oldestSeq, messages };
}

describe("MessageList with history pages", () => {
  it("prepends a page, skipping its op entries, and skips live ops the page already holds", () => {
    const { sub, list } = setup();
    sub.emit("message", msg(10, "live"));
    const added = list.load(
      page(12, 1, [
        msg(7, "old"),
        msg(8, "edited", "alice", { editedAt: 1011, reactions: { "👍": { count: 1, users: ["bob"] } } }),
        op(9, "react", 8, "👍", "bob"),
      ]),
    );
    expect(added.map((m) => m.seq)).toEqual([7, 8]);
    expect(list.messages.map((m) => m.seq)).toEqual([7, 8, 10]);
    // The subscription catches up to the page's head: ops up to 12 are in the page.
    sub.emit("message", op(11, "edit", 8, "edited"));
    sub.emit("message", op(12, "react", 8, "👍", "carol"));
    expect(list.get(8)?.reactions).toEqual({ "👍": { count: 1, users: ["bob"] } });
    sub.emit("message", op(13, "react", 8, "🎉", "carol"));
    expect(list.get(8)?.reactions).toEqual({ "👍": { count: 1, users: ["bob"] }, "🎉": { count: 1, users: ["carol"] } });
  });

  it("a page replaces a row only when it is folded further", () => {
    const { sub, list } = setup();
    sub.emit("message", msg(1, "a"));
    sub.emit("message", op(5, "edit", 1, "a5"));
    expect(list.load(page(4, 1, [msg(1, "a4", "alice", { editedAt: 1004 })]))).toEqual([]);
    expect(list.get(1)?.payload).toBe("a5");
    expect(list.load(page(9, 1, [msg(1, "a9", "alice", { editedAt: 1009 })]))).toEqual([row(1, "a9", { editedAt: 1009 })]);
    expect(list.get(1)?.payload).toBe("a9");
    // A message the subscription delivers after a page brought it stays as the page had it.
    sub.emit("message", msg(1, "stale"));
    expect(list.get(1)?.payload).toBe("a9");
  });

  it("refuses a page of another channel", () => {
    const { list } = setup();
    expect(() => list.load({ ...page(1, 1, []), channel: "chat.2" })).toThrow(/chat\.2/);
  });

  it("loadOlder pages backward from the oldest seq seen until the start of what is retained", async () => {
    const log: MessageFields[] = [msg(3, "c"), op(4, "react", 3, "👍", "bob"), msg(5, "e"), msg(6, "f")];
    const asked: HistoryOptions[] = [];
    const source = {
      async history(channel: string, o: HistoryOptions = {}): Promise<HistoryPageFrame> {
        expect(channel).toBe(ch);
        asked.push(o);
        const before = o.before ?? Infinity;
        const ms = log.filter((m) => m.seq < before).slice(-(o.limit ?? 100));
        return page(7, 3, ms);
      },
    };
    const { sub, list } = setup();
    sub.emit("message", msg(7, "g"));
    expect((await list.loadOlder(source, 2)).map((m) => m.seq)).toEqual([5, 6]);
    expect(list.complete).toBe(false);
    expect((await list.loadOlder(source, 2)).map((m) => m.seq)).toEqual([3]);
    expect(list.complete).toBe(true);
    expect(await list.loadOlder(source, 2)).toEqual([]);
    expect(asked.map((o) => o.before)).toEqual([7, 5, 3]);
    expect(list.messages.map((m) => m.seq)).toEqual([3, 5, 6, 7]);
  });
});
