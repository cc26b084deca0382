import { Emitter } from "./emitter.js";
import type {
  JSONValue,
  MessageFrame,
  PresenceDiffFrame,
  PresenceStateFrame,
  ReceiptsFrame,
  SnapshotRequiredFrame,
  StateEntry,
  StateFrame,
  TypingNoticeFrame,
  PresenceMember,
  UserStatusFrame,
} from "./frames.js";
import { Presence, type PresenceView } from "./presence.js";

/** Options of one subscription. */
export interface SubscribeOptions {
  /**
   * The last seq the app has handled on the channel. Without it, the
   * client uses the one in its storage, and with none there subscribes
   * live from the channel's head.
   */
  lastSeq?: number;
  /** Follow the channel's presence: members, count, and presence, presence_state and presence_diff events. */
  presence?: boolean;
  /** Follow delivery and read positions: receipts events. */
  receipts?: boolean;
  /** Keep the channel's state: state events, and entries in snapshot_required. */
  state?: boolean;
}

/** The events of a Subscription. */
export interface SubscriptionEvents {
  /** A message, each seq once and in order. */
  message: MessageFrame;
  /** The missed messages are gone: reload the channel from the app's backend; the stream goes on after seq. */
  snapshot_required: SnapshotRequiredFrame;
  presence_state: PresenceStateFrame;
  presence_diff: PresenceDiffFrame;
  /**
   * The whole current presence view, after every presence_state and after
   * each presence_diff that changed it (subscribe with presence: true).
   * The view is a copy: keep it, it does not change under you.
   */
  presence: PresenceView;
  typing_notice: TypingNoticeFrame;
  receipts: ReceiptsFrame;
  state: StateFrame;
  user_status: UserStatusFrame;
  /** A key of the channel's state changed (from a state frame, snapshot_required or a state write); value null means removed. */
  state_changed: StateChange;
  /** The subscription ended: undefined after unsubscribe, else why (a HeraldError, ClosedError). */
  end: Error | undefined;
}

/** One change of a channel's state key, as applied to Subscription.state. */
export interface StateChange {
  key: string;
  /** The new value; null when the key was removed. */
  value: JSONValue;
  /** The seq of the write. */
  seq: number;
}

/**
 * Subscription is one channel's stream. It lives until unsubscribe, the
 * client's close, or a server error that ends it; reconnects do not end
 * it: the client resubscribes from lastSeq and the server replays what was
 * missed.
 */
export class Subscription extends Emitter<SubscriptionEvents> {
  /** The seq of the last message delivered, or undefined before it is known. */
  lastSeq: number | undefined;
  /** Resolves when the server first confirms the subscription; rejects when it refuses it. */
  readonly ready: Promise<void>;
  /**
   * The channel's state (PROTOCOL.md §17): each key's value and the seq of
   * the write that set it, kept from the state frame, snapshot_required's
   * entries and state writes delivered as messages (op "state"). A write
   * is applied only when its seq is greater than the one held for its key.
   */
  readonly state = new Map<string, StateEntry>();
  /** Every user's delivered position, from receipts frames (read implies delivered). */
  readonly delivered = new Map<string, number>();
  /** Every user's read position, from receipts frames. */
  readonly read = new Map<string, number>();
  /** @internal the presence view; read it through members, count and countOnly. */
  readonly presenceView = new Presence();

  /** @internal the seq of each key's last write, removed keys included. */
  stateSeqs = new Map<string, number>();
  /** @internal the seq of the last snapshot: writes of absent keys at or below it are stale. */
  stateFloor = 0;

  /** @internal the id of the subscribe frame in flight, "" when none is. */
  reqId = "";
  /** @internal whether the server confirmed it on the current connection. */
  live = false;
  /** @internal whether lastSeq has been read from storage. */
  loaded = false;
  /** @internal set while it waits out a retry after a transient error. */
  retryAt = 0;
  /** @internal transient errors in a row. */
  failures = 0;
  /** @internal the highest read position reported, sent again after a reconnect. */
  sentRead = 0;
  /** @internal the highest delivered position reported, sent again after a reconnect. */
  sentDelivered = 0;
  /** @internal whether ready is settled; whether the subscription ended. */
  confirmed = false;
  ended = false;

  private settle!: (err?: Error) => void;

  /** @internal use HeraldClient.subscribe. */
  constructor(
    readonly channel: string,
    readonly options: SubscribeOptions,
    private readonly unsubscribeFn: (sub: Subscription) => Promise<void>,
  ) {
    super();
    this.lastSeq = options.lastSeq;
    this.ready = new Promise<void>((resolve, reject) => {
      this.settle = (err) => (err ? reject(err) : resolve());
    });
    // A refused subscription is reported through ready and the end event;
    // an app that awaits neither must not get an unhandled rejection.
    this.ready.catch(() => {});
  }

  /** Ends the subscription; the server is told when connected. */
  unsubscribe(): Promise<void> {
    return this.unsubscribeFn(this);
  }

  /**
   * Who is in the channel (subscribe with presence: true): each present
   * user by id with its connection count and info. Empty before the
   * first presence_state and in count-only mode.
   */
  get members(): ReadonlyMap<string, PresenceMember> {
    return this.presenceView.members;
  }

  /** How many users are in the channel (subscribe with presence: true). */
  get count(): number {
    return this.presenceView.count;
  }

  /** Whether the channel is too big for a member list and presence gives a count only (PROTOCOL.md §14). */
  get countOnly(): boolean {
    return this.presenceView.countOnly;
  }

  /** @internal replaces the presence view with f's and emits it. */
  applyPresenceState(f: PresenceStateFrame): void {
    this.presenceView.applyState(f);
    this.emit("presence_state", f);
    this.emit("presence", this.presenceView.snapshot());
  }

  /** @internal applies diff f to the presence view and emits the view when it changed. */
  applyPresenceDiff(f: PresenceDiffFrame): void {
    const changed = this.presenceView.applyDiff(f);
    this.emit("presence_diff", f);
    if (changed) this.emit("presence", this.presenceView.snapshot());
  }

  /** @internal settles ready once. */
  confirm(err?: Error): void {
    if (this.confirmed) return;
    this.confirmed = true;
    this.settle(err);
  }

  /** @internal applies a whole state snapshot taken at seq (a state frame or snapshot_required's entries). */
  applySnapshot(seq: number, entries: Record<string, StateEntry>): void {
    for (const [key, e] of Object.entries(entries)) this.applyWrite(key, e.value, e.seq, 0);
    // A key the snapshot lacks was removed by a write at or before seq.
    for (const [key, e] of [...this.state]) {
      if (!Object.prototype.hasOwnProperty.call(entries, key) && e.seq < seq) this.applyWrite(key, null, seq, 0);
    }
    this.stateFloor = Math.max(this.stateFloor, seq);
  }

  /**
   * @internal applies one state write unless the key holds a later one
   * (or, for a key never seen, unless seq is at or below floor: a snapshot
   * that lacks the key was taken after it); reports whether it changed.
   */
  applyWrite(key: string, value: JSONValue, seq: number, floor = this.stateFloor): boolean {
    if (seq <= (this.stateSeqs.get(key) ?? floor)) return false;
    this.stateSeqs.set(key, seq);
    if (value === null) {
      if (!this.state.delete(key)) return false;
    } else {
      this.state.set(key, { value, seq });
    }
    this.emit("state_changed", { key, value, seq });
    return true;
  }

  /** @internal merges a receipts frame's positions; positions never move back. */
  applyReceipts(delivered: Record<string, number> | undefined, read: Record<string, number> | undefined): void {
    for (const [u, s] of Object.entries(delivered ?? {})) if (s > (this.delivered.get(u) ?? 0)) this.delivered.set(u, s);
    for (const [u, s] of Object.entries(read ?? {})) {
      if (s > (this.read.get(u) ?? 0)) this.read.set(u, s);
      if (s > (this.delivered.get(u) ?? 0)) this.delivered.set(u, s);
    }
  }

  /**
   * How many users other than except (the client's own user) have
   * delivered, and read, the message at seq: a user counts when their
   * position is seq or more.
   */
  receiptCounts(seq: number, except?: string): { delivered: number; read: number } {
    let delivered = 0;
    let read = 0;
    for (const [u, s] of this.delivered) if (u !== except && s >= seq) delivered++;
    for (const [u, s] of this.read) if (u !== except && s >= seq) read++;
    return { delivered, read };
  }

  /** @internal ends the subscription with err. */
  end(err: Error | undefined): void {
    if (this.ended) return;
    this.ended = true;
    this.live = false;
    this.reqId = "";
    this.confirm(err ?? new Error("herald: unsubscribed"));
    this.emit("end", err);
  }
}
