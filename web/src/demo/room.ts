// One room of the demo: its subscription, the messages it shows with
// their ticks, who is online and who is typing.
import { type HeraldClient, type MessageFields, newId, type Subscription } from "../../../client/js/src/index.js";
import { MessageCache, type ShownMessage, textOf } from "./cache.js";

/** What a room tells the page. */
export interface RoomHooks {
  /** Something the room shows changed. */
  changed(room: Room): void;
  /** Whether the room is on screen and the page visible: its messages count as read. */
  seen(room: Room): boolean;
}

/** A message of the user's own that waits for its ack. */
interface Unsent {
  id: string;
  text: string;
  failed?: string;
}

/** The ticks of an own message. */
export type Tick = "sending" | "sent" | "delivered" | "read" | "failed";

/** Room follows channel demo.<name> for the signed-in user. */
export class Room {
  readonly channel: string;
  readonly messages = new Map<number, ShownMessage>();
  readonly unsent = new Map<string, Unsent>();
  /** Members online, by user id, with their connection counts; count alone in big rooms. */
  readonly members = new Map<string, number>();
  memberCount = 0;
  /** Users typing, with when their notice runs out. */
  readonly typing = new Map<string, number>();
  unread = 0;
  notice = "";
  private sub?: Subscription;
  private readonly cache: MessageCache;
  private saveTimer?: ReturnType<typeof setTimeout>;
  private lastTyping = 0;

  constructor(
    readonly name: string,
    private readonly me: string,
    private readonly client: HeraldClient,
    private readonly hooks: RoomHooks,
  ) {
    this.channel = `demo.${name}`;
    this.cache = new MessageCache(me, this.channel);
    for (const m of this.cache.load()) this.messages.set(m.seq, m);
    // With nothing cached, show the newest page of history first and go
    // on right after it; with a cache, the SDK resumes from its lastSeq.
    if (this.messages.size > 0) {
      this.follow(undefined);
    } else {
      client.history(this.channel, { limit: 50 }).then(
        (page) => {
          for (const m of page.messages) this.add(m);
          this.follow(page.messages.at(-1)?.seq ?? page.seq);
        },
        (err: Error) => {
          this.notice = `Could not load this room: ${err.message}`;
          this.hooks.changed(this);
        },
      );
    }
    void client.pending(this.channel).then((frames) => {
      for (const f of frames) if (!this.unsent.has(f.id)) this.unsent.set(f.id, { id: f.id, text: textOf(f.payload) });
      this.hooks.changed(this);
    });
  }

  /** follow subscribes from lastSeq (undefined: the one in the SDK's storage). */
  private follow(lastSeq: number | undefined): void {
    const sub = this.client.subscribe(this.channel, { presence: true, receipts: true, ...(lastSeq !== undefined ? { lastSeq } : {}) });
    this.sub = sub;
    sub.on("message", (m) => this.add(m));
    sub.on("receipts", () => this.hooks.changed(this));
    sub.on("presence", (view) => {
      this.members.clear();
      for (const m of view.members.values()) this.members.set(m.userId, m.connections);
      this.memberCount = view.count;
      this.hooks.changed(this);
    });
    sub.on("typing_notice", (f) => {
      if (f.userId === this.me) return;
      this.typing.set(f.userId, Date.now() + f.ttl);
      this.hooks.changed(this);
    });
    sub.on("snapshot_required", () => {
      this.messages.clear();
      this.cache.clear();
      this.notice = "Older messages are gone from the server's history.";
      this.hooks.changed(this);
    });
    sub.on("end", (err) => {
      if (err) this.notice = `This room ended: ${err.message}`;
      this.hooks.changed(this);
    });
  }

  /** send publishes text; it shows at once as sending. */
  send(text: string): void {
    const id = newId(); // crypto.randomUUID needs a secure context
    this.unsent.set(id, { id, text });
    this.hooks.changed(this);
    this.client.publish(this.channel, "message.new", { text }, { id }).then(
      (ack) => this.acked(id, ack.seq, ack.timestamp),
      (err: Error) => {
        const u = this.unsent.get(id);
        if (u) u.failed = err.message;
        this.hooks.changed(this);
      },
    );
  }

  /** acked moves an own message from unsent to the list, where its ack put it. */
  acked(id: string, seq: number, time: number): void {
    const u = this.unsent.get(id);
    if (!u) return;
    this.unsent.delete(id);
    if (!this.messages.has(seq)) this.messages.set(seq, { seq, id, from: this.me, text: u.text, time });
    this.changedAndSaved();
  }

  /** typed tells the room's others, at most every two seconds. */
  typed(): void {
    const now = Date.now();
    if (now - this.lastTyping < 2000) return;
    this.lastTyping = now;
    this.client.sendTyping(this.channel);
  }

  /** markSeen reports the newest message as read. */
  markSeen(): void {
    this.unread = 0;
    const newest = this.newestSeq();
    if (newest > 0) this.client.markRead(this.channel, newest);
  }

  /** tick is the state of own message m. */
  tick(m: ShownMessage): Tick {
    let tick: Tick = "sent";
    if (!this.sub) return tick;
    for (const [user, pos] of this.sub.read) if (user !== this.me && pos >= m.seq) return "read";
    for (const [user, pos] of this.sub.delivered) if (user !== this.me && pos >= m.seq) tick = "delivered";
    return tick;
  }

  /** The messages in seq order. */
  ordered(): ShownMessage[] {
    return [...this.messages.values()].sort((a, b) => a.seq - b.seq);
  }

  /** Users whose typing notice still runs, oldest notice first. */
  typists(now = Date.now()): string[] {
    for (const [u, until] of this.typing) if (until <= now) this.typing.delete(u);
    return [...this.typing.keys()];
  }

  close(): void {
    void this.sub?.unsubscribe();
  }

  private add(m: MessageFields): void {
    if (m.op || this.messages.has(m.seq)) return;
    this.messages.set(m.seq, { seq: m.seq, id: m.id ?? "", from: m.from ?? "", text: textOf(m.payload), time: m.timestamp });
    if (m.id) this.unsent.delete(m.id);
    if (m.from && m.from !== this.me) {
      this.typing.delete(m.from);
      if (this.hooks.seen(this)) {
        this.client.markRead(this.channel, m.seq);
      } else {
        this.unread++;
        this.client.markDelivered(this.channel, m.seq);
      }
    }
    this.changedAndSaved();
  }

  private newestSeq(): number {
    let n = 0;
    for (const s of this.messages.keys()) n = Math.max(n, s);
    return n;
  }

  private changedAndSaved(): void {
    this.hooks.changed(this);
    clearTimeout(this.saveTimer);
    this.saveTimer = setTimeout(() => this.cache.save(this.messages.values()), 100);
  }
}
