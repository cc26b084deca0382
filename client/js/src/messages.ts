import { Emitter } from "./emitter.js";
import type { HistoryPageFrame, MessageFields, Reaction } from "./frames.js";
import type { Subscription } from "./subscription.js";
import type { HistoryOptions } from "./types.js";

/**
 * ListMessage is one row of a MessageList: a message as it stands now,
 * in the shape the server gives a folded message in a replay or history
 * page (PROTOCOL.md §18): the latest edit's payload and editedAt; a
 * tombstone (payload null, deleted true, no editedAt, no reactions) once
 * deleted; reactions as `{key: {count, users}}` with at most 20 users, in
 * the order they reacted. Rows are never changed in place: a change makes
 * a new object, so a UI can compare rows by identity.
 */
export type ListMessage = Omit<MessageFields, "op" | "target">;

/** What changed in a MessageList: the argument of its change event. */
export interface MessageListChange {
  /** The rows added or changed, in their new version, in seq order. */
  messages: ListMessage[];
  /** True when the list was emptied (snapshot_required, clear()): show list.messages anew. */
  reset: boolean;
}

/** The events of a MessageList. */
export interface MessageListEvents {
  change: MessageListChange;
}

/** Where loadOlder reads pages: a HeraldClient, or anything with its history method. */
export interface HistorySource {
  history(channel: string, options?: HistoryOptions): Promise<HistoryPageFrame>;
}

/** The most users a reaction summary names (protocol.ReactionUsers on the server). */
const REACTION_USERS = 20;

/**
 * MessageList keeps what a chat shows of one channel: its messages in seq
 * order, each as it stands now. Attach it to a Subscription at once
 * (before the first message) and it applies every message the
 * subscription delivers: a plain message becomes a row, and an op entry
 * (edit, delete, react, unreact; PROTOCOL.md §18) changes the row of its
 * target the way the server's fold does, so that a row folded live here
 * equals the same message folded by the server in a replay or history
 * page. Op entries and state writes are never rows themselves.
 *
 * Older messages come from history pages: load(page) or loadOlder().
 * Each row remembers up to which seq of the log it is folded (its own seq
 * when it arrived live, the page's head when it came from a page); an op
 * entry at or below that seq is already in it and is skipped, and a page
 * replaces a row only when it is folded further than the row.
 *
 * An op entry whose target is not in the list is ignored, not kept
 * pending: the server acks a message before any op on it, so a target
 * missing here is older than the list, and when the app loads it later it
 * comes from a history page, which the server has folded up to its head,
 * this op included.
 *
 * Limits, as the protocol states them: a reaction summary names at most
 * 20 users, so a live react or unreact by a user it does not name moves
 * the count on the assumption that the user had not (or had) reacted; the
 * count is exact as of the last page. After an unreact, the order of the
 * keys may differ from the server's (the server orders keys by their
 * oldest standing reaction, whose seq a page does not carry).
 */
export class MessageList extends Emitter<MessageListEvents> {
  /** The channel of the list. */
  readonly channel: string;
  private rows: ListMessage[] = [];
  /** The seq of the log up to which each row is folded, by the row's seq. */
  private readonly folded = new Map<number, number>();
  /** The lowest seq the list has seen (rows, op entries, page edges); where loadOlder goes on. */
  private floor = Infinity;
  private oldestRetained = 0;
  private readonly offs: (() => void)[];

  /** Attaches a list to sub; call it before the subscription's first message. */
  constructor(sub: Subscription) {
    super();
    this.channel = sub.channel;
    this.offs = [sub.on("message", (m) => this.apply(m)), sub.on("snapshot_required", () => this.clear())];
  }

  /** The rows in seq order. The array is replaced, never changed, on each change. */
  get messages(): readonly ListMessage[] {
    return this.rows;
  }

  /** How many rows the list holds. */
  get size(): number {
    return this.rows.length;
  }

  /**
   * Whether the list reaches back to the oldest message the server still
   * holds, as of the last page loadOlder read: there is nothing older to
   * load.
   */
  get complete(): boolean {
    return this.oldestRetained > 0 && this.floor <= this.oldestRetained;
  }

  /** Returns the row of the message at seq, if the list holds it. */
  get(seq: number): ListMessage | undefined {
    const i = this.find(seq);
    return i >= 0 ? this.rows[i] : undefined;
  }

  /** Stops following the subscription; the rows stay. */
  detach(): void {
    for (const off of this.offs.splice(0)) off();
  }

  /** Empties the list (done on snapshot_required: the missed messages are gone). */
  clear(): void {
    this.rows = [];
    this.folded.clear();
    this.floor = Infinity;
    this.oldestRetained = 0;
    this.emit("change", { messages: [], reset: true });
  }

  /**
   * Applies one message the subscription delivered, in seq order: a new
   * row, or an op entry folded into its target's row. The list calls it
   * for each message of its subscription; call it yourself only for a
   * list fed by hand.
   */
  apply(m: MessageFields): void {
    this.floor = Math.min(this.floor, m.seq);
    if (m.op === "edit" || m.op === "delete" || m.op === "react" || m.op === "unreact") {
      const target = m.target ?? 0;
      const i = this.find(target);
      if (i < 0 || m.seq <= (this.folded.get(target) ?? 0)) return; // see the class comment
      this.folded.set(target, m.seq);
      const row = foldOp(this.rows[i], m);
      if (row === this.rows[i]) return;
      this.rows = this.rows.slice();
      this.rows[i] = row;
      this.emit("change", { messages: [row], reset: false });
      return;
    }
    if (m.op !== undefined) return; // a state write, or an op this version does not know
    if (this.find(m.seq) >= 0) return; // a page brought it, folded at least this far
    const row = toRow(m);
    this.insert(row, m.seq);
    this.emit("change", { messages: [row], reset: false });
  }

  /**
   * Adds the messages of a history page of the list's channel: new rows,
   * and rows the page has folded further than the list has. Returns the
   * rows added or changed.
   */
  load(page: HistoryPageFrame): ListMessage[] {
    if (page.channel !== this.channel) throw new Error(`herald: a page of ${page.channel} loaded into the list of ${this.channel}`);
    const changed: ListMessage[] = [];
    for (const m of page.messages) {
      this.floor = Math.min(this.floor, m.seq);
      if (m.op !== undefined) continue;
      const i = this.find(m.seq);
      if (i >= 0 && (this.folded.get(m.seq) ?? 0) >= page.seq) continue;
      const row = toRow(m);
      if (i >= 0) {
        this.rows = this.rows.slice();
        this.rows[i] = row;
        this.folded.set(m.seq, page.seq);
      } else {
        this.insert(row, page.seq);
      }
      changed.push(row);
    }
    this.oldestRetained = page.oldestSeq;
    if (changed.length > 0) this.emit("change", { messages: changed, reset: false });
    return changed;
  }

  /**
   * Reads the page before the oldest message the list has seen (the
   * newest page when it has seen none) from source, a HeraldClient, and
   * loads it. Resolves with the rows it added or changed; an empty result
   * with complete true means there is nothing older.
   */
  async loadOlder(source: HistorySource, limit = 50): Promise<ListMessage[]> {
    const options: HistoryOptions = { limit };
    if (this.floor !== Infinity) {
      if (this.floor <= 1) return [];
      options.before = this.floor;
    }
    const page = await source.history(this.channel, options);
    if (page.messages.length === 0) {
      // Nothing before floor is retained any more.
      this.oldestRetained = Math.max(page.oldestSeq, 1);
      this.floor = Math.min(this.floor, this.oldestRetained);
    }
    return this.load(page);
  }

  /** find returns the index of the row at seq, or -1. */
  private find(seq: number): number {
    let lo = 0;
    let hi = this.rows.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const s = this.rows[mid].seq;
      if (s === seq) return mid;
      if (s < seq) lo = mid + 1;
      else hi = mid - 1;
    }
    return -1;
  }

  /** insert puts row in its place by seq (new rows are nearly always last) and notes how far it is folded. */
  private insert(row: ListMessage, folded: number): void {
    let i = this.rows.length;
    while (i > 0 && this.rows[i - 1].seq > row.seq) i--;
    this.rows = [...this.rows.slice(0, i), row, ...this.rows.slice(i)];
    this.folded.set(row.seq, folded);
  }
}

/** toRow copies the fields of a message that a row holds. */
function toRow(m: MessageFields): ListMessage {
  const row: ListMessage = { seq: m.seq, payload: m.payload ?? null, timestamp: m.timestamp };
  if (m.id !== undefined) row.id = m.id;
  if (m.event !== undefined) row.event = m.event;
  if (m.from !== undefined) row.from = m.from;
  if (m.editedAt !== undefined) row.editedAt = m.editedAt;
  if (m.deleted) row.deleted = true;
  if (m.reactions !== undefined) row.reactions = copyReactions(m.reactions);
  return row;
}

/**
 * foldOp returns row as op entry o leaves it, as hub/fold.go's
 * Change.apply does, or row itself when o changes nothing.
 */
function foldOp(row: ListMessage, o: MessageFields): ListMessage {
  if (row.deleted) return row; // ops after a delete change nothing
  switch (o.op) {
    case "edit":
      return { ...row, payload: o.payload ?? null, editedAt: o.timestamp };
    case "delete": {
      const t: ListMessage = { seq: row.seq, payload: null, timestamp: row.timestamp, deleted: true };
      if (row.id !== undefined) t.id = row.id;
      if (row.event !== undefined) t.event = row.event;
      if (row.from !== undefined) t.from = row.from;
      return t;
    }
    case "react":
    case "unreact": {
      if (typeof o.payload !== "string" || !o.from) return row;
      const reactions = react(row.reactions ?? {}, o.payload, o.from, o.op === "react");
      if (!reactions) return row;
      const next: ListMessage = { ...row, reactions };
      if (Object.keys(reactions).length === 0) delete next.reactions; // the server omits empty reactions
      return next;
    }
  }
  return row;
}

/**
 * react returns reactions with user's reaction key added (on) or taken
 * away, or undefined when that changes nothing. A summary names at most
 * REACTION_USERS users; see MessageList on what that means for counts.
 */
function react(reactions: Record<string, Reaction>, key: string, user: string, on: boolean): Record<string, Reaction> | undefined {
  const r = reactions[key] ?? { count: 0, users: [] };
  const named = r.users.includes(user);
  const hidden = r.count > r.users.length; // the summary does not name every reactor
  let next: Reaction;
  if (on) {
    if (named) return undefined;
    next = r.users.length < REACTION_USERS && !hidden ? { count: r.count + 1, users: [...r.users, user] } : { count: r.count + 1, users: r.users };
  } else if (named) {
    next = { count: r.count - 1, users: r.users.filter((u) => u !== user) };
  } else if (hidden) {
    next = { count: r.count - 1, users: r.users };
  } else {
    return undefined;
  }
  const out = copyReactions(reactions);
  if (next.count <= 0) delete out[key];
  else out[key] = next;
  return out;
}

function copyReactions(rs: Record<string, Reaction>): Record<string, Reaction> {
  const out: Record<string, Reaction> = {};
  for (const [k, r] of Object.entries(rs)) out[k] = { count: r.count, users: [...r.users] };
  return out;
}
