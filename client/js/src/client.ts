import { Backoff } from "./backoff.js";
import { Connection, type WebSocketConstructor, type WebSocketLike } from "./connection.js";
import { dispatch, type FrameHandler } from "./dispatch.js";
import { browserEnvironment, EnvironmentWatcher, type PauseReason } from "./environment.js";
import { ClosedError, CloseError, HeraldError, transient } from "./errors.js";
import { Emitter } from "./emitter.js";
import type {
  AckFrame,
  ClientFrame,
  ErrorFrame,
  HistoryFrame,
  HistoryPageFrame,
  JSONValue,
  PresenceStateFrame,
  PublishFrame,
  ServerFrame,
  StateSetFrame,
  SubscribeFrame,
} from "./frames.js";
import { newId } from "./ids.js";
import { type Ack, Outbox, type OutFrame, type Pending } from "./outbox.js";
import { PublishStates } from "./publishstates.js";
import { Requests } from "./requests.js";
import { SSESocket, sseAvailable, sseUrl } from "./sse.js";
import { MemoryStorage, type Storage } from "./storage.js";
import { type SubscribeOptions, Subscription } from "./subscription.js";
import { type Transport, TransportPolicy } from "./transports.js";
import type { ClientEvents, ConnectionState, HeraldClientOptions, HistoryOptions, PublishOptions } from "./types.js";

export type { WebSocketConstructor, WebSocketLike } from "./connection.js";
export { browserEnvironment } from "./environment.js";
export type { Environment, EnvironmentEvent, PauseReason } from "./environment.js";
export { newId } from "./ids.js";
export type { PublishState, PublishStateEvent } from "./publishstates.js";
export { SSESocket, sseAvailable, sseUrl } from "./sse.js";
export type { EventSourceConstructor, EventSourceLike, FetchLike, SSESocketOptions } from "./sse.js";
export type { Transport } from "./transports.js";
export type { ClientEvents, ConnectionState, HeraldClientOptions, HistoryOptions, PublishOptions, StateEvent } from "./types.js";

interface Waiter {
  resolve: (ack: Ack) => void;
  reject: (err: Error) => void;
}

/**
 * HeraldClient keeps a connection to a Herald server: it authenticates with
 * the token callback, reconnects with exponential backoff and full jitter,
 * resubscribes each channel from its lastSeq, delivers each seq once and in
 * order, and resends unacked publishes with the same id until they are
 * acked. It mirrors the Go SDK (client/heraldclient).
 */
export class HeraldClient extends Emitter<ClientEvents> {
  private readonly opts: Required<
    Omit<HeraldClientOptions, "fallbackUrls" | "WebSocket" | "random" | "environment" | "transports" | "sseUrl" | "SSE" | "EventSource">
  > & {
    WebSocket: WebSocketConstructor | undefined;
    SSE: WebSocketConstructor;
    sseUrl: string | undefined;
  };
  private readonly transports: TransportPolicy;
  private transportValue: Transport;
  private readonly endpoints: string[];
  private endpoint = 0;
  private readonly storage: Storage;
  private readonly backoff: Backoff;
  private readonly random: () => number;
  private readonly subs = new Map<string, Subscription>();
  private readonly outbox = new Outbox();
  private readonly waiters = new Map<Pending, Waiter[]>();
  private readonly requests = new Requests();
  private readonly unsubs = new Map<string, () => void>();
  private conn: Connection | undefined;
  private gen = 0;
  private seqNo = 0;
  private stateValue: ConnectionState = "disconnected";
  private running = false;
  private stopped = false;
  private first: { resolve: () => void; reject: (e: Error) => void } | undefined;
  private reconnectTimer?: ReturnType<typeof setTimeout>;
  private maintainTimer?: ReturnType<typeof setTimeout>;
  private loaded: Promise<void> | undefined;
  private persisting: Promise<void> = Promise.resolve();
  private readonly env: EnvironmentWatcher;
  /** Why the connection is held closed; empty when the client may connect. */
  private readonly pausedFor = new Set<PauseReason>();
  private attemptNo = 0;
  private userId = "";
  private readonly publishStates = new PublishStates(
    (e) => this.emit("publish_state", e),
    (channel, seq) => this.receiptCounts(channel, seq),
  );

  constructor(options: HeraldClientOptions) {
    super();
    const WS = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    // Each allowed transport that can work here: without a WebSocket, SSE
    // alone; without a streaming fetch or an EventSource (React Native),
    // WebSocket alone.
    const sse = options.SSE !== undefined || options.EventSource !== undefined || sseAvailable();
    const allowed = (options.transports ?? ["websocket", "sse"]).filter((t) => (t === "sse" ? sse : WS));
    if (allowed.length === 0) throw new Error("herald: no WebSocket: pass the WebSocket option");
    this.transports = new TransportPolicy(allowed);
    this.transportValue = this.transports.next;
    const ES = options.EventSource;
    this.opts = {
      url: options.url,
      token: options.token,
      WebSocket: WS,
      SSE: options.SSE ?? (class extends SSESocket {
        constructor(url: string) {
          super(url, { EventSource: ES });
        }
      } as WebSocketConstructor),
      sseUrl: options.sseUrl,
      backoffMin: options.backoffMin ?? 250,
      backoffMax: Math.max(options.backoffMax ?? 30000, options.backoffMin ?? 250),
      backoffReset: options.backoffReset ?? 5000,
      connectTimeout: options.connectTimeout ?? 10000,
      pingInterval: options.pingInterval ?? 20000,
      pongTimeout: options.pongTimeout ?? 10000,
      storage: options.storage ?? new MemoryStorage(),
      storagePrefix: options.storagePrefix ?? "herald:",
      hiddenGrace: options.hiddenGrace ?? 30000,
    };
    this.env = new EnvironmentWatcher(options.environment === null ? undefined : (options.environment ?? browserEnvironment()), this.opts.hiddenGrace, {
      stopped: () => this.stopped,
      wake: (reason) => this.wake(reason),
      pause: (reason) => this.pause(reason),
    });
    this.endpoints = [options.url, ...(options.fallbackUrls ?? [])];
    this.storage = this.opts.storage;
    this.random = options.random ?? Math.random;
    this.backoff = new Backoff(this.opts.backoffMin, this.opts.backoffMax, (n) => this.random() * n);
  }

  /** The connection state. */
  get state(): ConnectionState {
    return this.stateValue;
  }

  /** The transport of the connection, or of the next attempt while disconnected. */
  get transport(): Transport {
    return this.transportValue;
  }

  /** How many publishes wait for their ack. */
  get pendingPublishes(): number {
    return this.outbox.size;
  }

  /**
   * Returns the publishes waiting for their ack, oldest first (of channel
   * only, when given), once the outbox is restored from storage: an app
   * shows them as sending after a reload, until their ack events.
   */
  async pending(channel?: string): Promise<PublishFrame[]> {
    await this.load();
    const out: PublishFrame[] = [];
    for (const p of this.outbox.all()) {
      if (p.frame.type === "publish" && (channel === undefined || p.frame.channel === channel)) out.push(p.frame);
    }
    return out;
  }

  /**
   * Starts the client: it restores the outbox from storage and connects,
   * and resolves once the first connection is authenticated. It rejects
   * when the token callback fails or the token is refused on that first
   * connection, or when the client is closed first. After that the client
   * reconnects by itself until close() or a close code that forbids it.
   */
  connect(): Promise<void> {
    if (this.stopped) return Promise.reject(new ClosedError());
    if (this.running) {
      return this.stateValue === "connected" ? Promise.resolve() : this.waitFirst();
    }
    this.running = true;
    this.env.start();
    const p = this.waitFirst();
    void this.load().then(() => this.attempt());
    return p;
  }

  /** Closes the connection with 1000 and stops the client. Waiting publishes reject with ClosedError but stay in storage, for a later client. */
  close(): void {
    this.stop(new ClosedError(), false);
  }

  /**
   * Subscribes to channel. Attach listeners to the returned subscription
   * at once; `ready` says when the server confirmed it. Subscribing twice
   * to a channel throws.
   */
  subscribe(channel: string, options: SubscribeOptions = {}): Subscription {
    if (this.stopped) throw new ClosedError();
    if (this.subs.has(channel)) throw new Error(`herald: already subscribed to ${channel}`);
    const sub = new Subscription(channel, options, (s) => this.unsubscribe(s));
    this.subs.set(channel, sub);
    const ready = () => {
      sub.loaded = true;
      if (this.conn?.authed && this.subs.get(channel) === sub) this.sendFrames([this.subscribeFrame(sub)]);
    };
    if (options.lastSeq !== undefined) {
      this.saveSeq(sub);
      ready();
    } else {
      Promise.resolve(this.storage.get(this.seqKey(channel)))
        .then((v) => {
          if (v != null && sub.lastSeq === undefined && Number.isSafeInteger(Number(v))) sub.lastSeq = Number(v);
        })
        .catch(() => {})
        .then(ready);
    }
    return sub;
  }

  /**
   * Publishes payload to channel as event and resolves with the ack once
   * the server stored it. The publish goes into the outbox (and storage)
   * first; it is sent at once when connected, and again with the same id
   * after every reconnect until acked. Transient errors (internal,
   * rate_limited) are retried with backoff; other errors reject.
   */
  async publish(channel: string, event: string | undefined, payload: JSONValue, options: PublishOptions = {}): Promise<Ack> {
    if (this.stopped) throw new ClosedError();
    const frame: PublishFrame = { type: "publish", id: options.id ?? newId(), channel, payload };
    if (event) frame.event = event;
    return this.enqueue(frame);
  }

  /** Reads a page of channel's retained messages; asked again after a reconnect until answered. */
  async history(channel: string, options: HistoryOptions = {}): Promise<HistoryPageFrame> {
    const frame: HistoryFrame = { type: "history", id: this.nextId("h"), channel, ...options };
    return (await this.request(frame)) as HistoryPageFrame;
  }

  /** Asks who is in channel; asked again after a reconnect until answered. */
  async presence(channel: string): Promise<PresenceStateFrame> {
    return (await this.request({ type: "presence", id: this.nextId("q"), channel })) as PresenceStateFrame;
  }

  /** Tells channel's other subscribers that the user is typing; dropped while disconnected. */
  sendTyping(channel: string): void {
    if (this.conn?.authed) this.sendFrames([{ type: "typing", channel }]);
  }

  /**
   * Reports that the user read channel up to seq. The highest position is
   * kept and reported again after a reconnect. The channel must be
   * subscribed.
   */
  markRead(channel: string, seq: number): void {
    const sub = this.subs.get(channel);
    if (!sub || seq <= sub.sentRead) return;
    sub.sentRead = seq;
    sub.sentDelivered = Math.max(sub.sentDelivered, seq); // read implies delivered
    if (this.conn?.authed && sub.live) this.sendFrames([{ type: "receipt", channel, seq, status: "read" }]);
  }

  /**
   * Reports that channel's messages up to seq reached this device. The
   * highest position is kept and reported again after a reconnect; a
   * position at or below one already reported (read included) sends
   * nothing. The channel must be subscribed.
   */
  markDelivered(channel: string, seq: number): void {
    const sub = this.subs.get(channel);
    if (!sub || seq <= sub.sentDelivered) return;
    sub.sentDelivered = seq;
    if (this.conn?.authed && sub.live) this.sendFrames([{ type: "receipt", channel, seq, status: "delivered" }]);
  }

  /**
   * How many users other than the client's own have delivered, and read,
   * the message at seq of channel, from the receipts of its subscription
   * (subscribe with receipts: true); zeros when it is not subscribed.
   */
  receiptCounts(channel: string, seq: number): { delivered: number; read: number } {
    return this.subs.get(channel)?.receiptCounts(seq, this.userId) ?? { delivered: 0, read: 0 };
  }

  /**
   * Sets key of channel's state to value (null removes it) and resolves
   * with the ack (PROTOCOL.md §17). Like a publish, the write goes through
   * the outbox and is resent with the same id until acked.
   */
  async setState(channel: string, key: string, value: JSONValue, options: PublishOptions = {}): Promise<Ack> {
    if (this.stopped) throw new ClosedError();
    const frame: StateSetFrame = { type: "state_set", id: options.id ?? newId(), channel, key, value };
    return this.enqueue(frame);
  }

  /** Replaces the payload of own message target (a seq) of channel: an op entry (PROTOCOL.md §18), published like any message. */
  edit(channel: string, target: number, payload: JSONValue, options: PublishOptions = {}): Promise<Ack> {
    return this.publishOp(channel, "edit", target, payload, options);
  }

  /** Deletes own message target of channel, leaving a tombstone (op delete). */
  remove(channel: string, target: number, options: PublishOptions = {}): Promise<Ack> {
    return this.publishOp(channel, "delete", target, undefined, options);
  }

  /** Adds the user's reaction key (such as "👍") to message target of channel. */
  react(channel: string, target: number, key: string, options: PublishOptions = {}): Promise<Ack> {
    return this.publishOp(channel, "react", target, key, options);
  }

  /** Takes the user's reaction key away from message target of channel. */
  unreact(channel: string, target: number, key: string, options: PublishOptions = {}): Promise<Ack> {
    return this.publishOp(channel, "unreact", target, key, options);
  }

  private async publishOp(
    channel: string,
    op: NonNullable<PublishFrame["op"]>,
    target: number,
    payload: JSONValue | undefined,
    options: PublishOptions,
  ): Promise<Ack> {
    if (this.stopped) throw new ClosedError();
    if (!Number.isSafeInteger(target) || target < 1) throw new Error(`herald: target must be a seq, 1 or greater: ${target}`);
    const frame: PublishFrame = { type: "publish", id: options.id ?? newId(), channel, op, target };
    if (payload !== undefined) frame.payload = payload;
    return this.enqueue(frame);
  }

  // ---- pause while hidden, wake ----

  /** Whether the connection is held closed (hidden, offline). */
  private get paused(): boolean {
    return this.pausedFor.size > 0;
  }

  /** pause closes the connection with 1000 while the app is hidden or the device offline; wake resumes. */
  private pause(reason: PauseReason): void {
    if (this.stopped) return;
    const was = this.paused;
    this.pausedFor.add(reason);
    if (was) return;
    this.attemptNo++; // an attempt waiting for its token gives up
    clearTimeout(this.reconnectTimer);
    const cn = this.conn;
    if (cn && !cn.done) {
      cn.close(1000, `client ${reason}`);
      this.ended(cn, 1000, `client ${reason}`);
    }
    this.setConnState("disconnected");
  }

  /** wake lifts the pause for reason and connects at once, skipping the backoff wait, when nothing holds the client back. */
  private wake(reason: PauseReason): void {
    if (this.stopped || !this.running) return;
    const was = this.pausedFor.delete(reason);
    if (this.paused) return;
    if (!was && (this.conn || this.stateValue !== "disconnected")) return; // connected or connecting
    clearTimeout(this.reconnectTimer);
    this.backoff.reset();
    void this.load().then(() => this.attempt());
  }

  // ---- connection loop ----

  private waitFirst(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const prev = this.first;
      this.first = {
        resolve: () => {
          prev?.resolve();
          resolve();
        },
        reject: (e) => {
          prev?.reject(e);
          reject(e);
        },
      };
    });
  }

  private load(): Promise<void> {
    this.loaded ??= Promise.resolve(this.storage.get(this.outboxKey()))
      .then((v) => {
        if (v) this.outbox.restore(v);
      })
      .catch(() => {});
    return this.loaded;
  }

  private setConnState(state: ConnectionState, error?: Error): void {
    if (this.stateValue === state && !error) return;
    this.stateValue = state;
    this.emit("state", { state, error, transport: this.transportValue });
  }

  private async attempt(): Promise<void> {
    if (this.stopped || this.paused) return;
    const my = ++this.attemptNo;
    this.setConnState("connecting");
    let token: string;
    try {
      token = await this.opts.token();
    } catch (err) {
      if (my !== this.attemptNo) return;
      const e = new Error(`herald: token callback: ${(err as Error)?.message ?? err}`);
      if (this.first) return this.stop(e, true);
      return this.retry(e);
    }
    if (this.stopped || my !== this.attemptNo) return;
    const transport = this.transports.pick();
    this.transportValue = transport;
    const url = this.endpoints[this.endpoint];
    let ws: WebSocketLike;
    try {
      ws = transport === "sse" ? new this.opts.SSE(this.opts.sseUrl ?? sseUrl(url)) : new this.opts.WebSocket!(url);
    } catch (err) {
      this.transports.ended(transport, false, 0, 1006);
      return this.retry(err as Error);
    }
    const cn: Connection = new Connection(ws, this.nextId("a"), token, this.opts.connectTimeout, {
      frame: (f) => this.handle(cn, f),
      closed: (code, reason) => this.ended(cn, code, reason),
      timedOut: () => this.drop(cn, new Error("herald: no auth_ok in time")),
    });
    cn.transport = transport;
    this.conn = cn;
  }

  /** drop gives up on a connection that is silent or stuck, without waiting for its close. */
  private drop(cn: Connection, err: Error): void {
    if (cn.done) return;
    cn.close(4000, "client: " + err.message.slice(0, 60));
    this.ended(cn, 1006, err.message);
  }

  /** ended handles the end of connection cn with a close code. */
  private ended(cn: Connection, code: number, reason: string): void {
    if (cn.done) return;
    cn.finish();
    if (this.conn === cn) this.conn = undefined;
    for (const sub of this.subs.values()) {
      sub.live = false;
      sub.reqId = "";
    }
    for (const [id, done] of this.unsubs) {
      this.unsubs.delete(id);
      done(); // the server dropped the subscriptions with the connection
    }
    if (this.stopped || this.paused) return; // a pause is our own close: not for good
    this.transports.ended(cn.transport, cn.authed, cn.authed ? Date.now() - cn.startedAt : 0, code);
    const err = new CloseError(code, reason);
    // PROTOCOL.md §10: no automatic reconnect after 1000, 1008 or 4003.
    if (code === 1000 || code === 1008 || code === 4003) return this.stop(err, true);
    // A token refused on the first connection ends connect(): the same
    // callback would most likely give the same token. Later, 4001 asks the
    // callback again, which is what the table asks for.
    if (code === 4001 && !cn.authed && this.first) return this.stop(err, true);
    if (cn.authed && Date.now() - cn.startedAt >= this.opts.backoffReset) this.backoff.reset();
    this.retry(err);
  }

  private retry(err: Error): void {
    if (this.stopped || this.paused) return;
    this.endpoint = (this.endpoint + 1) % this.endpoints.length;
    this.transportValue = this.transports.next;
    this.setConnState("disconnected", err);
    const d = code1001(err) ? this.random() * 100 : this.backoff.next();
    this.reconnectTimer = setTimeout(() => void this.attempt(), d);
  }

  private stop(err: Error, byServer: boolean): void {
    if (this.stopped) return;
    this.stopped = true;
    clearTimeout(this.reconnectTimer);
    this.env.stop();
    clearTimeout(this.maintainTimer);
    const cn = this.conn;
    if (cn && !cn.done) {
      cn.close(1000, "client closed");
      this.ended(cn, 1000, "client closed");
    }
    for (const sub of this.subs.values()) sub.end(err);
    this.subs.clear();
    this.requests.failAll(err);
    for (const p of this.outbox.all()) {
      for (const w of this.waiters.get(p) ?? []) w.reject(err);
    }
    this.waiters.clear();
    if (byServer) {
      // The server refused this identity: the publishes cannot go.
      for (const p of this.outbox.all()) this.outbox.take(p.frame.channel, p.frame.id);
      this.persistOutbox();
    }
    this.first?.reject(err);
    this.first = undefined;
    this.setConnState("closed", err);
  }

  /** installs an authenticated connection: resubscribe, resend, heartbeat. */
  private authenticated(cn: Connection): void {
    cn.authenticated(++this.gen);
    const frames: ClientFrame[] = [];
    for (const sub of this.subs.values()) {
      if (sub.loaded && sub.retryAt === 0) frames.push(this.subscribeFrame(sub));
    }
    frames.push(...this.outbox.sendAll(cn.gen));
    frames.push(...this.requests.frames());
    this.sendFrames(frames);
    cn.heartbeat(
      this.opts.pingInterval,
      this.opts.pongTimeout,
      () => this.sendFrames([{ type: "ping" }]),
      () => this.drop(cn, new Error("herald: heartbeat timeout")),
    );
    this.setConnState("connected");
    this.first?.resolve();
    this.first = undefined;
    this.scheduleMaintain();
  }

  /** sends frames on the current connection, batched up to 100 per message. */
  private sendFrames(frames: ClientFrame[]): void {
    const cn = this.conn;
    if (!cn || cn.done || frames.length === 0) return;
    try {
      cn.send(frames);
    } catch (err) {
      this.drop(cn, err as Error);
    }
  }

  private nextId(prefix: string): string {
    return prefix + (++this.seqNo).toString(36);
  }

  // ---- server frames ----

  private handle(cn: Connection, f: ServerFrame): void {
    switch (f.type) {
      case "auth_ok":
        if (f.userId) this.userId = f.userId;
        if (!cn.authed) this.authenticated(cn);
        return;
      case "error":
        return this.handleError(cn, f);
      case "token_expiring":
        void this.refresh(cn);
        return;
      case "pong":
        return;
    }
    if (!cn.authed) return;
    dispatch(f, "channel" in f ? this.subs.get(f.channel) : undefined, this.frameHandler);
  }

  /** what dispatch needs of the client. */
  private readonly frameHandler: FrameHandler = {
    saveSeq: (sub) => this.saveSeq(sub),
    resubscribe: (sub) => this.sendFrames([this.subscribeFrame(sub)]),
    send: (frames) => this.sendFrames(frames),
    acked: (f) => this.acked(f),
    answered: (f) => this.requests.answer(f),
    receipts: (sub) => this.publishStates.advance(sub.channel),
    unsubscribed: (f) => {
      if (f.id && this.unsubs.has(f.id)) {
        this.unsubs.get(f.id)!();
        this.unsubs.delete(f.id);
      }
    },
  };

  /** acked settles the publish f acknowledges. */
  private acked(f: AckFrame): void {
    const p = this.outbox.take(f.channel, f.id);
    if (!p) return; // a second ack for the same publish
    this.persistOutbox();
    const ack: Ack = { id: f.id, channel: f.channel, seq: f.seq, timestamp: f.timestamp };
    for (const w of this.waiters.get(p) ?? []) w.resolve(ack);
    this.waiters.delete(p);
    this.emit("ack", ack);
    this.publishStates.sent(ack, this.subs.has(ack.channel));
  }

  private handleError(cn: Connection, f: ErrorFrame): void {
    const e = new HeraldError(f.code, f.message, f.channel);
    if (!cn.authed) {
      // A refused token: the server closes with 4001 next, and the close
      // decides. Other frames were not sent before auth_ok.
      return;
    }
    if (!f.ref) {
      // Not an answer: with a channel and a final code, the server ended
      // that subscription (a refreshed token no longer grants it).
      const sub = f.channel ? this.subs.get(f.channel) : undefined;
      if (sub && !transient(e.code)) {
        this.subs.delete(sub.channel);
        void Promise.resolve(this.storage.delete(this.seqKey(sub.channel))).catch(() => {});
        sub.end(e);
        return;
      }
      this.emit("error", e);
      return;
    }
    const r = this.requests.get(f.ref);
    if (r) {
      if (transient(e.code)) return this.retryLater(() => this.conn?.authed && this.sendFrames([r]));
      this.requests.fail(f.ref, e);
      return;
    }
    const p = this.outbox.get(f.channel, f.ref);
    if (p) {
      if (transient(e.code)) {
        const b = new Backoff(this.opts.backoffMin, this.opts.backoffMax, (n) => this.random() * n, p.failures);
        p.failures++;
        p.gen = 0;
        p.retryAt = Date.now() + b.next();
        this.scheduleMaintain();
        return;
      }
      this.outbox.take(p.frame.channel, p.frame.id);
      this.persistOutbox();
      const ws = this.waiters.get(p) ?? [];
      this.waiters.delete(p);
      for (const w of ws) w.reject(e);
      this.emit("publish_error", { frame: p.frame, error: e });
      return;
    }
    const sub = f.channel ? this.subs.get(f.channel) : undefined;
    if (sub && sub.reqId === f.ref) {
      sub.reqId = "";
      if (transient(e.code)) {
        const b = new Backoff(this.opts.backoffMin, this.opts.backoffMax, (n) => this.random() * n, sub.failures);
        sub.failures++;
        sub.retryAt = Date.now() + b.next();
        this.scheduleMaintain();
        return;
      }
      this.subs.delete(sub.channel);
      sub.end(e);
      return;
    }
    const u = this.unsubs.get(f.ref);
    if (u) {
      this.unsubs.delete(f.ref);
      u(); // not_found included: the goal is reached
      return;
    }
    if (f.ref === cn.refreshId) {
      // A refused refresh: the connection keeps its old identity; at
      // expiry the server closes with 4001 and the reconnect asks again.
      this.emit("error", e);
      return;
    }
    this.emit("error", e);
  }

  private async refresh(cn: Connection): Promise<void> {
    let token: string;
    try {
      token = await this.opts.token();
    } catch {
      return; // the server closes with 4001 at expiry, and the reconnect asks again
    }
    if (cn.done) return;
    cn.refreshId = this.nextId("a");
    this.sendFrames([{ type: "auth", id: cn.refreshId, token }]);
  }

  // ---- deferred work ----

  private retryLater(fn: () => unknown): void {
    setTimeout(fn, new Backoff(this.opts.backoffMin, this.opts.backoffMax, (n) => this.random() * n).next());
  }

  /** sends the publishes and subscribes whose retry time came, and sleeps until the next one. */
  private maintain(): void {
    this.maintainTimer = undefined;
    const cn = this.conn;
    if (!cn?.authed || this.stopped) return;
    const now = Date.now();
    const frames: ClientFrame[] = [];
    let nextAt = Infinity;
    for (const sub of this.subs.values()) {
      if (sub.retryAt === 0) continue;
      if (now < sub.retryAt) {
        nextAt = Math.min(nextAt, sub.retryAt);
        continue;
      }
      sub.retryAt = 0;
      if (sub.loaded) frames.push(this.subscribeFrame(sub));
    }
    const due = this.outbox.sendDue(cn.gen, now);
    frames.push(...due.frames);
    nextAt = Math.min(nextAt, due.nextAt);
    this.sendFrames(frames);
    if (nextAt !== Infinity) this.maintainTimer = setTimeout(() => this.maintain(), Math.max(0, nextAt - now));
  }

  private scheduleMaintain(): void {
    clearTimeout(this.maintainTimer);
    this.maintainTimer = setTimeout(() => this.maintain(), 0);
  }

  // ---- helpers ----

  private subscribeFrame(sub: Subscription): SubscribeFrame {
    sub.reqId = this.nextId("s");
    sub.live = false;
    const f: SubscribeFrame = { type: "subscribe", id: sub.reqId, channel: sub.channel };
    if (sub.lastSeq !== undefined) f.lastSeq = sub.lastSeq;
    if (sub.options.presence) f.presence = true;
    if (sub.options.receipts) f.receipts = true;
    if (sub.options.state) f.state = true;
    return f;
  }

  private enqueue(frame: OutFrame): Promise<Ack> {
    return new Promise<Ack>((resolve, reject) => {
      void this.load().then(() => {
        if (this.stopped) return reject(new ClosedError());
        let p = this.outbox.get(frame.channel, frame.id);
        if (!p) {
          p = this.outbox.add(frame)!;
          this.persistOutbox();
          this.publishStates.sending(frame.id, frame.channel);
          if (this.conn?.authed) {
            p.gen = this.conn.gen;
            this.sendFrames([frame]);
          }
        }
        // Else the same publish (same id) is on its way: wait for it.
        const ws = this.waiters.get(p) ?? [];
        ws.push({ resolve, reject });
        this.waiters.set(p, ws);
      });
    });
  }

  private request(frame: ClientFrame & { id: string }): Promise<ServerFrame> {
    if (this.stopped) return Promise.reject(new ClosedError());
    const answer = this.requests.add(frame);
    if (this.conn?.authed) this.sendFrames([frame]);
    return answer;
  }

  private unsubscribe(sub: Subscription): Promise<void> {
    if (this.subs.get(sub.channel) !== sub) return Promise.resolve();
    this.subs.delete(sub.channel);
    void Promise.resolve(this.storage.delete(this.seqKey(sub.channel))).catch(() => {});
    const wasOn = sub.live || sub.reqId !== "";
    sub.end(undefined);
    if (!this.conn?.authed || !wasOn) return Promise.resolve();
    const id = this.nextId("u");
    const done = new Promise<void>((resolve) => this.unsubs.set(id, resolve));
    this.sendFrames([{ type: "unsubscribe", id, channel: sub.channel }]);
    return done;
  }

  private seqKey(channel: string): string {
    return `${this.opts.storagePrefix}seq:${channel}`;
  }

  private outboxKey(): string {
    return `${this.opts.storagePrefix}outbox`;
  }

  private saveSeq(sub: Subscription): void {
    const v = sub.lastSeq;
    if (v === undefined) return;
    this.persist(() => (this.subs.get(sub.channel) === sub ? this.storage.set(this.seqKey(sub.channel), String(v)) : undefined));
  }

  private persistOutbox(): void {
    this.persist(() => (this.outbox.size === 0 ? this.storage.delete(this.outboxKey()) : this.storage.set(this.outboxKey(), this.outbox.serialize())));
  }

  /** runs storage writes one after another, so that a later value never loses to an earlier one. */
  private persist(fn: () => Promise<void> | void): void {
    this.persisting = this.persisting.then(fn).catch(() => {});
  }

  /** Resolves when every storage write made so far is done. */
  flush(): Promise<void> {
    return this.persisting;
  }
}

function code1001(err: Error): boolean {
  return err instanceof CloseError && err.code === 1001;
}
