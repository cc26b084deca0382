import { Emitter } from "./emitter.js";
import type {
  MessageFrame,
  PresenceDiffFrame,
  PresenceStateFrame,
  ReceiptsFrame,
  SnapshotRequiredFrame,
  StateFrame,
  TypingNoticeFrame,
  UserStatusFrame,
} from "./frames.js";

/** Options of one subscription. */
export interface SubscribeOptions {
  /**
   * The last seq the app has handled on the channel. Without it, the
   * client uses the one in its storage, and with none there subscribes
   * live from the channel's head.
   */
  lastSeq?: number;
  /** Follow the channel's presence: presence_state and presence_diff events. */
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
  typing_notice: TypingNoticeFrame;
  receipts: ReceiptsFrame;
  state: StateFrame;
  user_status: UserStatusFrame;
  /** The subscription ended: undefined after unsubscribe, else why (a HeraldError, ClosedError). */
  end: Error | undefined;
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

  /** @internal settles ready once. */
  confirm(err?: Error): void {
    if (this.confirmed) return;
    this.confirmed = true;
    this.settle(err);
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
