import type { WebSocketLike } from "./connection.js";
import { SSEParser } from "./sseparser.js";

// The few web APIs SSESocket uses, declared by shape so that the build
// assumes neither the DOM nor Node's types (see timers.d.ts).

interface StreamReader {
  read(): Promise<{ done: boolean; value?: Uint8Array }>;
}

interface FetchResponse {
  readonly status: number;
  readonly body: { getReader?(): StreamReader; cancel?(): Promise<void> } | null | undefined;
}

/** The part of the global fetch that SSESocket uses. */
export type FetchLike = (
  url: string,
  init: { method?: string; headers?: Record<string, string>; body?: string; signal?: unknown; cache?: string },
) => Promise<FetchResponse>;

/** The part of the EventSource API that SSESocket uses (browsers, or a polyfill in React Native). */
export interface EventSourceLike {
  onmessage: ((ev: { data: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
  addEventListener(type: string, listener: (ev: { data: string }) => void): void;
  close(): void;
}

/** An EventSource constructor. */
export type EventSourceConstructor = new (url: string) => EventSourceLike;

/** Options of an SSESocket. */
export interface SSESocketOptions {
  /** The fetch that opens the stream and sends the frames; the global one by default. */
  fetch?: FetchLike;
  /**
   * Reads the stream with this EventSource instead of a streaming fetch.
   * Without it the global EventSource is used only where fetch cannot
   * stream (no global ReadableStream).
   */
  EventSource?: EventSourceConstructor;
}

interface Globals {
  fetch?: FetchLike;
  EventSource?: EventSourceConstructor;
  ReadableStream?: unknown;
  AbortController?: new () => { readonly signal: unknown; abort(): void };
  TextDecoder?: new () => { decode(b?: Uint8Array, o?: { stream: boolean }): string };
}

/** The largest POST body SSESocket builds from queued frames, far below the server's 16 × max_frame_size. */
const maxBatchBytes = 256 << 10;

/** How long a 413 waits for the close event (1009) before the socket gives up by itself. */
const tooLargeGrace = 5000;

/**
 * SSESocket is Herald's HTTP fallback (PROTOCOL.md §19) in the shape of a
 * WebSocket, so that the client runs over it unchanged: the server's frames
 * come down one Server-Sent Events stream (GET url), the client's go up in
 * POST url/send requests.
 *
 * The stream is read with fetch and a ReadableStream (browsers, Node 20),
 * parsed by SSEParser: unlike EventSource, fetch can send the Accept header
 * and never reconnects by itself, and its errors are visible. EventSource is
 * used where fetch cannot stream; React Native can do neither without a
 * library, so it stays on WebSocket unless the app passes an EventSource.
 *
 * It opens (onopen) on the session event. send() queues a frame; one POST
 * is in flight at a time and carries, as NDJSON, every frame queued while
 * the previous one was out, so frames reach the server in order. A ping
 * event is answered with an empty POST unless a POST goes out anyway. It
 * closes (onclose) with the code of the close event; with 1006 when the
 * stream ends without one or fails, when a POST fails or answers other than
 * 204, and when a POST answers 404: the session is gone, and the client
 * reconnects as after any lost connection. A 413 waits for the close event
 * (1009) that the server sends with it.
 */
export class SSESocket implements WebSocketLike {
  /** 0 connecting, 1 open (the session event came), 2 closing, 3 closed, as WebSocket's. */
  readyState = 0;
  onopen: ((ev: unknown) => void) | null = null;
  onmessage: ((ev: { data: unknown }) => void) | null = null;
  onclose: ((ev: { code: number; reason: string }) => void) | null = null;
  onerror: ((ev: unknown) => void) | null = null;
  /** The session id from the server's first event. */
  session = "";
  private readonly fetch: FetchLike;
  private readonly sendUrl: string;
  private queue: string[] = [];
  private posting = false;
  private pongDue = false;
  private abort?: { abort(): void };
  private es?: EventSourceLike;
  private tooLargeTimer?: ReturnType<typeof setTimeout>;

  /** Opens a session at url, the server's /sse endpoint (http or https). */
  constructor(
    readonly url: string,
    options: SSESocketOptions = {},
  ) {
    const g = globalThis as unknown as Globals;
    const f = options.fetch ?? (g.fetch ? (g.fetch.bind(globalThis) as FetchLike) : undefined);
    if (!f) throw new Error("herald: SSE needs fetch");
    this.fetch = f;
    this.sendUrl = url.replace(/[?#].*$/, "").replace(/\/+$/, "") + "/send";
    const ES = options.EventSource ?? (g.ReadableStream === undefined ? g.EventSource : undefined);
    if (ES) this.openEventSource(ES);
    else void this.openFetch(g);
  }

  /** send queues one frame (JSON text without line breaks) for the next POST; it throws unless open. */
  send(data: string): void {
    if (this.readyState !== 1) throw new Error("herald: SSE session not open");
    this.queue.push(data);
    this.flush();
  }

  /** close ends the session by ending the stream; onclose follows, as on a WebSocket, with code. */
  close(code = 1000, reason = ""): void {
    if (this.readyState === 3) return;
    this.end();
    void Promise.resolve().then(() => this.onclose?.({ code, reason }));
  }

  // ---- the stream ----

  private async openFetch(g: Globals): Promise<void> {
    const ac = g.AbortController ? new g.AbortController() : undefined;
    this.abort = ac;
    let res: FetchResponse;
    try {
      res = await this.fetch(this.url, { headers: { Accept: "text/event-stream" }, cache: "no-store", signal: ac?.signal });
    } catch (err) {
      return this.finish(1006, `herald: SSE stream failed: ${(err as Error)?.message ?? err}`);
    }
    const reader = res.status === 200 ? res.body?.getReader?.() : undefined;
    if (!reader || !g.TextDecoder) {
      void res.body?.cancel?.().catch(() => {});
      return this.finish(1006, `herald: SSE stream answered ${res.status}`);
    }
    const dec = new g.TextDecoder();
    const parser = new SSEParser((name, data) => this.event(name, data));
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done || this.readyState === 3) break;
        if (value) parser.push(dec.decode(value, { stream: true }));
      }
    } catch {
      // aborted or cut: the stream ended
    }
    this.finish(1006, "herald: SSE stream ended");
  }

  private openEventSource(ES: EventSourceConstructor): void {
    const es = new ES(this.url);
    this.es = es;
    for (const name of ["session", "ping", "close"]) es.addEventListener(name, (ev) => this.event(name, ev.data));
    es.onmessage = (ev) => this.event("", ev.data);
    // EventSource would reconnect by itself to a new session that nobody
    // authenticates: an error ends the socket instead (PROTOCOL.md §19).
    es.onerror = () => this.finish(1006, "herald: SSE stream ended");
  }

  /** event handles one event of the stream. */
  private event(name: string, data: string): void {
    if (this.readyState === 3) return;
    switch (name) {
      case "session": {
        const id = parse(data)?.session;
        if (typeof id !== "string" || this.readyState !== 0) return this.finish(1006, "herald: bad SSE session event");
        this.session = id;
        this.readyState = 1;
        this.onopen?.({});
        return;
      }
      case "ping":
        this.pongDue = true;
        this.flush();
        return;
      case "close": {
        const v = parse(data);
        const code = typeof v?.code === "number" ? v.code : 1006;
        return this.finish(code, typeof v?.reason === "string" ? v.reason : "");
      }
      case "":
      case "message":
        if (this.readyState === 1) this.onmessage?.({ data });
        return;
    }
  }

  // ---- the POSTs ----

  /** flush sends what is queued, or the answer to a ping, unless a POST is in flight. */
  private flush(): void {
    if (this.posting || this.readyState !== 1 || (this.queue.length === 0 && !this.pongDue)) return;
    let n = 0;
    let size = 0;
    while (n < this.queue.length && (n === 0 || size + this.queue[n].length < maxBatchBytes)) size += this.queue[n++].length + 1;
    const body = this.queue.splice(0, n).join("\n");
    this.pongDue = false; // any POST is a sign of life
    this.posting = true;
    this.fetch(this.sendUrl, {
      method: "POST",
      headers: { "Herald-Session": this.session, "Content-Type": "application/x-ndjson" },
      body,
    }).then(
      (res) => {
        this.posting = false;
        void res.body?.cancel?.().catch(() => {});
        if (this.readyState === 3) return;
        if (res.status === 204 || res.status === 200) return this.flush();
        if (res.status === 404) return this.finish(1006, "herald: SSE session gone");
        if (res.status === 413) {
          // The server closes the session with 1009: its close event says so.
          this.tooLargeTimer ??= setTimeout(() => this.finish(1009, "herald: frame too large"), tooLargeGrace);
          return;
        }
        this.finish(1006, `herald: SSE send answered ${res.status}`);
      },
      (err: unknown) => {
        this.posting = false;
        this.finish(1006, `herald: SSE send failed: ${(err as Error)?.message ?? err}`);
      },
    );
  }

  // ---- the end ----

  /** finish ends the socket and reports code and reason, once. */
  private finish(code: number, reason: string): void {
    if (this.readyState === 3) return;
    this.end();
    this.onclose?.({ code, reason });
  }

  /** end stops the stream and drops what was not sent. */
  private end(): void {
    this.readyState = 3;
    this.queue = [];
    clearTimeout(this.tooLargeTimer);
    try {
      this.abort?.abort();
      this.es?.close();
    } catch {
      // already ended
    }
  }
}

/**
 * sseAvailable reports whether SSESocket can work here without an
 * EventSource passed in: fetch, and a fetch that streams (ReadableStream)
 * or a global EventSource. React Native has neither of the latter.
 */
export function sseAvailable(): boolean {
  const g = globalThis as unknown as Globals;
  return g.fetch !== undefined && (g.ReadableStream !== undefined || g.EventSource !== undefined);
}

/** sseUrl derives the SSE endpoint from a WebSocket URL: ws(s)://host/p/ws → http(s)://host/p/sse; any other path → /sse. */
export function sseUrl(wsUrl: string): string {
  const m = /^(ws|http)(s?):\/\/([^/?#]+)([^?#]*)/i.exec(wsUrl);
  if (!m) throw new Error(`herald: cannot derive the SSE URL from ${wsUrl}: pass sseUrl`);
  const path = m[4].endsWith("/ws") ? m[4].slice(0, -3) : "";
  return `http${m[2].toLowerCase()}://${m[3]}${path}/sse`;
}

function parse(data: string): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(data);
    return v && typeof v === "object" ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
