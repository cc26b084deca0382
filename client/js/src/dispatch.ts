import type { AckFrame, ClientFrame, HistoryPageFrame, PresenceStateFrame, ServerFrame, UnsubscribedFrame } from "./frames.js";
import { judgeSeq } from "./seq.js";
import type { Subscription } from "./subscription.js";

/** What dispatching the frames of an authenticated connection needs of the client. */
export interface FrameHandler {
  /** Stores sub's lastSeq. */
  saveSeq(sub: Subscription): void;
  /** Subscribes sub again from its lastSeq. */
  resubscribe(sub: Subscription): void;
  /** Sends frames on the current connection. */
  send(frames: ClientFrame[]): void;
  /** Settles the publish f acknowledges. */
  acked(f: AckFrame): void;
  /** Resolves the request f answers; false when it answers none. */
  answered(f: HistoryPageFrame | PresenceStateFrame): boolean;
  /** sub's receipts changed: own publishes may be delivered or read. */
  receipts(sub: Subscription): void;
  /** Settles the unsubscribe f confirms. */
  unsubscribed(f: UnsubscribedFrame): void;
}

/**
 * dispatch hands a server frame of an authenticated connection to sub
 * (its channel's subscription, if any) and to h. Frames other than those
 * of channels (auth_ok, error, token_expiring, pong) are the client's.
 */
export function dispatch(f: ServerFrame, sub: Subscription | undefined, h: FrameHandler): void {
  switch (f.type) {
    case "message": {
      if (!sub || !sub.live) return;
      const verdict = judgeSeq(sub.lastSeq ?? 0, f.seq);
      if (verdict === "deliver") {
        sub.lastSeq = f.seq;
        h.saveSeq(sub);
        if (f.op === "state" && f.event) sub.applyWrite(f.event, f.payload ?? null, f.seq);
        sub.emit("message", f);
      } else if (verdict === "gap") {
        // The server's ordering rules a gap out; never deliver out of
        // order: resubscribe from lastSeq, and the server replays.
        h.resubscribe(sub);
      }
      return;
    }
    case "subscribed": {
      if (!sub || !sub.reqId || f.id !== sub.reqId) return; // a superseded subscribe
      if (sub.lastSeq === undefined) {
        sub.lastSeq = f.seq;
        h.saveSeq(sub);
      } else if (!f.recovered && sub.lastSeq !== f.seq) {
        // Not honoured and no snapshot_required: never skip silently.
        sub.lastSeq = f.seq;
        h.saveSeq(sub);
        sub.emit("snapshot_required", { type: "snapshot_required", channel: f.channel, seq: f.seq, oldestSeq: 0 });
      }
      sub.reqId = "";
      sub.failures = 0;
      sub.live = true;
      if (sub.sentRead > 0 && sub.options.receipts) {
        h.send([{ type: "receipt", channel: sub.channel, seq: Math.min(sub.sentRead, f.seq), status: "read" }]);
      }
      if (sub.sentDelivered > sub.sentRead && sub.options.receipts) {
        h.send([{ type: "receipt", channel: sub.channel, seq: Math.min(sub.sentDelivered, f.seq), status: "delivered" }]);
      }
      sub.confirm();
      return;
    }
    case "snapshot_required":
      if (!sub) return;
      if (f.id !== undefined ? f.id !== sub.reqId : !sub.live) return;
      sub.lastSeq = f.seq;
      h.saveSeq(sub);
      if (f.entries) sub.applySnapshot(f.seq, f.entries);
      sub.emit("snapshot_required", f);
      return;
    case "ack":
      h.acked(f);
      return;
    case "history_page":
    case "presence_state":
      if (h.answered(f)) return;
      if (f.type === "presence_state" && sub && !f.id) sub.applyPresenceState(f);
      return;
    case "presence_diff":
      sub?.applyPresenceDiff(f);
      return;
    case "typing_notice":
      sub?.emit("typing_notice", f);
      return;
    case "receipts":
      if (!sub) return;
      sub.applyReceipts(f.delivered, f.read);
      h.receipts(sub);
      sub.emit("receipts", f);
      return;
    case "state":
      if (!sub) return;
      sub.applySnapshot(f.seq, f.entries ?? {});
      sub.emit("state", f);
      return;
    case "user_status":
      sub?.emit("user_status", f);
      return;
    case "unsubscribed":
      h.unsubscribed(f);
      return;
    default:
      return; // PROTOCOL.md §1: ignore frame types this client does not know
  }
}
