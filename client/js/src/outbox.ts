import type { PublishFrame, StateSetFrame } from "./frames.js";

/** A frame the outbox keeps until its ack: a publish or a state write. */
export type OutFrame = PublishFrame | StateSetFrame;

/** The server's answer to a publish: where the message was stored. */
export interface Ack {
  id: string;
  channel: string;
  seq: number;
  timestamp: number;
}

/** One publish waiting for its ack. */
export interface Pending {
  frame: OutFrame;
  /** The connection it was last sent on; 0 means it must be sent (after retryAt). */
  gen: number;
  /** When a publish that got a transient error may go again, in ms since the epoch. */
  retryAt: number;
  /** Transient errors so far, for the retry backoff. */
  failures: number;
}

function key(channel: string, id: string): string {
  return channel + "\u0000" + id;
}

/**
 * Outbox holds the publishes (and state writes) waiting for their ack, in the order they were
 * made, so that resends after a reconnect keep that order. An entry is
 * keyed by channel and id, the server's dedupe key, so a second ack for the
 * same publish (the first attempt's and a retry's) finds nothing to resolve.
 */
export class Outbox {
  private readonly entries = new Map<string, Pending>();

  /** How many publishes wait. */
  get size(): number {
    return this.entries.size;
  }

  /** Adds frame unless the same publish (channel and id) already waits; reports whether it was added. */
  add(frame: OutFrame): Pending | undefined {
    const k = key(frame.channel, frame.id);
    if (this.entries.has(k)) return undefined;
    const p: Pending = { frame, gen: 0, retryAt: 0, failures: 0 };
    this.entries.set(k, p);
    return p;
  }

  /**
   * Returns the entry of id on channel. Without a channel (an error frame
   * may leave it out) the first entry with the id: ids are random.
   */
  get(channel: string | undefined, id: string): Pending | undefined {
    if (channel) return this.entries.get(key(channel, id));
    for (const p of this.entries.values()) if (p.frame.id === id) return p;
    return undefined;
  }

  /** Removes the entry of id on channel and returns it, or undefined when none waits. */
  take(channel: string | undefined, id: string): Pending | undefined {
    const p = this.get(channel, id);
    if (p) this.entries.delete(key(p.frame.channel, p.frame.id));
    return p;
  }

  /** Every entry, oldest first. */
  all(): Pending[] {
    return [...this.entries.values()];
  }

  /** Marks every entry as sent on connection gen (a new connection resends them all) and returns them in order. */
  sendAll(gen: number): OutFrame[] {
    const out: OutFrame[] = [];
    for (const p of this.entries.values()) {
      p.gen = gen;
      p.retryAt = 0;
      out.push(p.frame);
    }
    return out;
  }

  /**
   * Returns the entries that wait to be sent again and whose retry time
   * has come, marking them sent on gen, and the earliest retry time still
   * ahead (Infinity when none).
   */
  sendDue(gen: number, now: number): { frames: OutFrame[]; nextAt: number } {
    const frames: OutFrame[] = [];
    let nextAt = Infinity;
    for (const p of this.entries.values()) {
      if (p.gen !== 0) continue;
      if (now < p.retryAt) {
        nextAt = Math.min(nextAt, p.retryAt);
        continue;
      }
      p.gen = gen;
      p.retryAt = 0;
      frames.push(p.frame);
    }
    return { frames, nextAt };
  }

  /** The frames, oldest first, for storage. */
  serialize(): string {
    return JSON.stringify([...this.entries.values()].map((p) => p.frame));
  }

  /** Adds the frames of a serialize() result; a malformed value adds nothing. */
  restore(value: string): number {
    let frames: unknown;
    try {
      frames = JSON.parse(value);
    } catch {
      return 0;
    }
    if (!Array.isArray(frames)) return 0;
    let n = 0;
    for (const f of frames as OutFrame[]) {
      const known = f && (f.type === "publish" || (f.type === "state_set" && typeof f.key === "string"));
      if (known && typeof f.id === "string" && typeof f.channel === "string" && this.add(f)) n++;
    }
    return n;
  }
}
