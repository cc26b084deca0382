import type { ClientFrame, ServerFrame } from "./frames.js";
import type { Transport } from "./transports.js";

/** The part of the WebSocket API the client uses (browsers, React Native, the `ws` package). */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
}

/** A WebSocket constructor: the global one, or `ws`'s in Node. */
export type WebSocketConstructor = new (url: string) => WebSocketLike;

/** What a Connection reports to the client. */
export interface ConnectionHooks {
  /** A server frame arrived (each frame of a batch in turn). */
  frame(f: ServerFrame): void;
  /** The socket closed with code and reason. */
  closed(code: number, reason: string): void;
  /** No auth_ok came within the connect timeout. */
  timedOut(): void;
}

/**
 * Connection is one WebSocket of the client (or an SSESocket, which looks
 * like one): it sends the auth frame once open, parses the frames that
 * arrive, batches the frames it sends, and keeps the timers (connect
 * timeout, heartbeat) that end with it.
 */
export class Connection {
  /** The connection's generation, set once authenticated. */
  gen = 0;
  /** Whether auth_ok came. */
  authed = false;
  /** The id of the last token refresh sent on it. */
  refreshId = "";
  /** When it was authenticated (Date.now()). */
  startedAt = 0;
  /** Whether it ended: nothing more is sent or reported. */
  done = false;
  /** Which transport ws is: a WebSocket or an SSESocket. */
  transport: Transport = "websocket";
  private lastRecv = Date.now();
  private pingTimer?: ReturnType<typeof setInterval>;
  private pongTimer?: ReturnType<typeof setTimeout>;
  private readonly connectTimer: ReturnType<typeof setTimeout>;

  /** Wires ws: it authenticates with token and authId once open, and reports to hooks. */
  constructor(
    readonly ws: WebSocketLike,
    readonly authId: string,
    token: string,
    connectTimeout: number,
    hooks: ConnectionHooks,
  ) {
    this.connectTimer = setTimeout(() => hooks.timedOut(), connectTimeout);
    ws.onopen = () => {
      if (this.done) return;
      ws.send(JSON.stringify({ type: "auth", id: authId, token }));
    };
    ws.onmessage = (ev) => {
      if (this.done) return;
      this.lastRecv = Date.now();
      let data: unknown;
      try {
        data = JSON.parse(typeof ev.data === "string" ? ev.data : String(ev.data));
      } catch {
        return;
      }
      const frames = Array.isArray(data) ? data : [data];
      for (const f of frames) {
        if (this.done) return;
        if (f && typeof f === "object" && typeof (f as ServerFrame).type === "string") hooks.frame(f as ServerFrame);
      }
    };
    ws.onerror = () => {};
    ws.onclose = (ev) => {
      if (this.done) return;
      hooks.closed(ev.code, ev.reason ?? "");
    };
  }

  /** authenticated marks the connection as authenticated with generation gen. */
  authenticated(gen: number): void {
    clearTimeout(this.connectTimer);
    this.authed = true;
    this.gen = gen;
    this.startedAt = Date.now();
  }

  /**
   * heartbeat calls ping every interval ms; when nothing arrived within
   * pongTimeout ms of a ping, it calls silent.
   */
  heartbeat(interval: number, pongTimeout: number, ping: () => void, silent: () => void): void {
    this.pingTimer = setInterval(() => {
      if (this.done) return;
      const sentAt = Date.now();
      ping();
      if (this.pongTimer) return;
      this.pongTimer = setTimeout(() => {
        this.pongTimer = undefined;
        if (this.lastRecv < sentAt) silent();
      }, pongTimeout);
    }, interval);
  }

  /** send sends frames, batched up to 100 per message; it throws when the socket does. */
  send(frames: ClientFrame[]): void {
    if (frames.length === 1) {
      this.ws.send(JSON.stringify(frames[0]));
      return;
    }
    for (let i = 0; i < frames.length; i += 100) this.ws.send(JSON.stringify(frames.slice(i, i + 100)));
  }

  /** close closes the socket, ignoring a socket already closing. */
  close(code: number, reason: string): void {
    try {
      this.ws.close(code, reason);
    } catch {
      // already closing
    }
  }

  /** finish marks the connection done, stops its timers and detaches from the socket. */
  finish(): void {
    this.done = true;
    clearTimeout(this.connectTimer);
    clearInterval(this.pingTimer);
    clearTimeout(this.pongTimer);
    this.ws.onopen = this.ws.onmessage = this.ws.onclose = null;
  }
}
