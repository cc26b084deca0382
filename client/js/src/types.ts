import type { WebSocketConstructor } from "./connection.js";
import type { Environment } from "./environment.js";
import type { HeraldError } from "./errors.js";
import type { Ack, OutFrame } from "./outbox.js";
import type { PublishStateEvent } from "./publishstates.js";
import type { EventSourceConstructor } from "./sse.js";
import type { Storage } from "./storage.js";
import type { Transport } from "./transports.js";

/** Options of a HeraldClient. */
export interface HeraldClientOptions {
  /** The server's WebSocket endpoint, such as `wss://chat.example.com/ws`. */
  url: string;
  /** Further endpoints, tried in turn after a failed connection. */
  fallbackUrls?: string[];
  /** Returns a fresh token; called before every connection and on token_expiring. */
  token: () => Promise<string>;
  /** The WebSocket constructor; the global WebSocket by default. */
  WebSocket?: WebSocketConstructor;
  /**
   * The transports the client may use, in order of preference (default
   * ["websocket", "sse"]). With both, a WebSocket attempt that fails before
   * auth_ok without a close from the server switches the following attempts
   * to SSE; WebSocket is tried again every 5th attempt and after an SSE
   * connection of a minute or more ends. Without a WebSocket constructor,
   * SSE alone; without a fetch that streams or an EventSource (React
   * Native), WebSocket alone.
   */
  transports?: Transport[];
  /** The server's SSE endpoint; by default derived from the endpoint in use: `wss://host/ws` → `https://host/sse`. */
  sseUrl?: string;
  /**
   * Reads the SSE stream with this EventSource instead of a streaming
   * fetch. React Native has neither: pass an EventSource implementation
   * there, or it uses WebSocket only.
   */
  EventSource?: EventSourceConstructor;
  /** The SSE transport's constructor, given the SSE URL; SSESocket by default. For tests, or to wrap it. */
  SSE?: WebSocketConstructor;
  /** Reconnect backoff's first ceiling, in ms (default 250). */
  backoffMin?: number;
  /** Reconnect backoff's largest ceiling, in ms (default 30000). */
  backoffMax?: number;
  /** A connection that lived this long resets the backoff, in ms (default 5000). */
  backoffReset?: number;
  /** How long a connection attempt may take up to auth_ok, in ms (default 10000). */
  connectTimeout?: number;
  /** How often a ping frame is sent, in ms (default 20000). */
  pingInterval?: number;
  /** How long after a ping silence means the server is gone, in ms (default 10000). */
  pongTimeout?: number;
  /** Where lastSeq per channel and the outbox are kept (default: memory). */
  storage?: Storage;
  /** The prefix of the storage keys (default `herald:`). */
  storagePrefix?: string;
  /** Replaces Math.random for backoff jitter; for tests. */
  random?: () => number;
  /**
   * Where the client hears of the network coming back and of the app
   * being hidden or shown: by default the browser's window ("online") and
   * document ("visibilitychange", visibilityState) when there are some.
   * Pass one to drive it from React Native's AppState and NetInfo, or from
   * tests; pass null to hear nothing.
   */
  environment?: Environment | null;
  /** How long the app may be hidden before the client closes its connection (with 1000) until it is visible again, in ms (default 30000). */
  hiddenGrace?: number;
}

/** The client's connection states. */
export type ConnectionState = "disconnected" | "connecting" | "connected" | "closed";

/** The state event: the new state and, when a connection ended, why. */
export interface StateEvent {
  state: ConnectionState;
  error?: Error;
  /** The transport of the connection, or of the next attempt while disconnected. */
  transport: Transport;
}

/** The events of a HeraldClient. */
export interface ClientEvents {
  state: StateEvent;
  /** A publish was acked, including one restored from storage with nobody awaiting it. */
  ack: Ack;
  /** A publish was refused for good. */
  publish_error: { frame: OutFrame; error: HeraldError };
  /**
   * An own publish moved on: sending when queued, sent when acked,
   * delivered when at least one other user's delivered position reached
   * its seq, read when at least one other user's read position did.
   * Delivered and read come from receipts frames, so the channel must be
   * subscribed with receipts: true. Counts changing within a state are
   * not reported; ask receiptCounts.
   */
  publish_state: PublishStateEvent;
  /** An error frame that answers nothing pending (logged by apps that care). */
  error: HeraldError;
}

/** Options of one publish. */
export interface PublishOptions {
  /** The idempotency key; a random 128-bit id by default. Reuse it to retry across client instances. */
  id?: string;
}

/** Options of a history request: at most one of after and before. */
export interface HistoryOptions {
  after?: number;
  before?: number;
  limit?: number;
}
