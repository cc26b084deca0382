import type { Ack } from "./outbox.js";

/** The delivery states of an own publish, in order: queued, acked, delivered to another user, read by another user. */
export type PublishState = "sending" | "sent" | "delivered" | "read";

/** A publish_state event: an own publish (or state write) moved to state. */
export interface PublishStateEvent {
  id: string;
  channel: string;
  /** The message's seq, once acked. */
  seq?: number;
  state: PublishState;
  /** How many users other than the client's own have delivered, and read, it (from receipts; 0 before any). */
  delivered: number;
  read: number;
}

/** Receipt counts of one message: how many other users delivered, and read, it. */
export interface ReceiptCounts {
  delivered: number;
  read: number;
}

interface Tracked {
  id: string;
  seq: number;
  state: PublishState;
}

/**
 * PublishStates follows own publishes from sending to sent (acked) to
 * delivered and read (from the channel's receipts), and reports each step.
 */
export class PublishStates {
  /** acked own publishes per channel not yet read by another user, oldest first. */
  private readonly tracked = new Map<string, Tracked[]>();

  /** Reports steps to emit; counts gives the receipt counts of a channel's seq (zeros when unknown). */
  constructor(
    private readonly emit: (e: PublishStateEvent) => void,
    private readonly counts: (channel: string, seq: number) => ReceiptCounts,
  ) {}

  /** sending reports a publish that was just queued. */
  sending(id: string, channel: string): void {
    this.emit({ id, channel, state: "sending", delivered: 0, read: 0 });
  }

  /** sent reports an acked own publish and keeps it to report delivered and read. */
  sent(ack: Ack, subscribed: boolean): void {
    let list = this.tracked.get(ack.channel);
    if (!list) {
      list = [];
      this.tracked.set(ack.channel, list);
    }
    const t: Tracked = { id: ack.id, seq: ack.seq, state: "sent" };
    list.push(t);
    if (list.length > 1000) list.shift(); // bounded: the oldest are the likeliest read already
    this.report(ack.channel, t);
    if (subscribed) this.advance(ack.channel);
  }

  /** advance moves the tracked publishes of channel to delivered or read as its receipts say. */
  advance(channel: string): void {
    const list = this.tracked.get(channel);
    if (!list) return;
    for (const t of list) {
      const n = this.counts(channel, t.seq);
      const next: PublishState = n.read > 0 ? "read" : n.delivered > 0 ? "delivered" : t.state;
      if (next === t.state) continue;
      if (t.state === "sent" && next === "read") {
        t.state = "delivered";
        this.report(channel, t, n);
      }
      t.state = next;
      this.report(channel, t, n);
    }
    const left = list.filter((t) => t.state !== "read");
    if (left.length === 0) this.tracked.delete(channel);
    else this.tracked.set(channel, left);
  }

  private report(channel: string, t: Tracked, n?: ReceiptCounts): void {
    const counts = n ?? this.counts(channel, t.seq);
    this.emit({ id: t.id, channel, seq: t.seq, state: t.state, ...counts });
  }
}
