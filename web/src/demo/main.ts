// The demo chat that `herald serve` shows at /: a name, rooms, messages
// with ticks, typing, who is online, and the connection's state. Built on
// the TypeScript SDK; it keeps lastSeq and unsent messages in
// IndexedDB, so a reload (even offline: the service worker keeps the
// page) loses nothing.
import { type ConnectionState, HeraldClient, IndexedDBStorage, LocalStorage } from "../../../client/js/src/index.js";
import { Room } from "./room.js";
import { renderRoom, renderRooms } from "./view.js";

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;

/** The demo's own settings in localStorage. */
const saved = {
  get name(): string | null {
    return localStorage.getItem("demo:name");
  },
  set name(v: string | null) {
    if (v) localStorage.setItem("demo:name", v);
    else localStorage.removeItem("demo:name");
  },
  rooms(user: string): string[] {
    try {
      const v = JSON.parse(localStorage.getItem(`demo:${user}:rooms`) ?? "null");
      if (Array.isArray(v) && v.every((r) => typeof r === "string") && v.length > 0) return v;
    } catch {
      // fall through
    }
    return ["lobby", "random"];
  },
  saveRooms(user: string, rooms: string[]): void {
    localStorage.setItem(`demo:${user}:rooms`, JSON.stringify(rooms));
  },
};

/** tokenFor asks the node for a demo token, waiting out the network while offline. */
async function tokenFor(name: string): Promise<string> {
  for (;;) {
    let res: Response | undefined;
    try {
      res = await fetch("/demo/token", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ name }),
      });
    } catch {
      // Offline or the node is down: try again when the network is back.
    }
    if (res?.ok) return ((await res.json()) as { token: string }).token;
    if (res && res.status < 500) throw new Error(((await res.json().catch(() => ({}))) as { error?: string }).error ?? `HTTP ${res.status}`);
    await new Promise<void>((r) => {
      const t = setTimeout(r, 2000);
      addEventListener("online", () => (clearTimeout(t), r()), { once: true });
    });
  }
}

class App {
  readonly client: HeraldClient;
  readonly rooms = new Map<string, Room>();
  active: string;
  private connState: ConnectionState = "disconnected";
  private drawQueued = false;

  constructor(readonly me: string) {
    this.client = new HeraldClient({
      url: `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws`,
      token: () => tokenFor(me),
      // IndexedDB where there is one (it takes a big outbox); each name
      // has its own keys, so two names in one browser never mix.
      storage: typeof indexedDB === "undefined" ? new LocalStorage() : new IndexedDBStorage("herald-demo"),
      storagePrefix: `${me}:`,
      backoffMax: 10000,
    });
    const names = saved.rooms(me);
    this.active = localStorage.getItem(`demo:${me}:active`) ?? names[0];
    if (!names.includes(this.active)) this.active = names[0];
    this.client.on("state", (e) => {
      this.connState = e.state;
      this.draw();
    });
    this.client.on("ack", (a) => this.rooms.get(a.channel.slice("demo.".length))?.acked(a.id, a.seq, a.timestamp));
    for (const n of names) this.join(n, false);
    this.client.connect().catch((err: Error) => this.banner(`Cannot connect: ${err.message}`));
    addEventListener("online", () => this.draw());
    addEventListener("offline", () => this.draw());
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "visible") this.rooms.get(this.active)?.markSeen();
    });
    setInterval(() => this.draw(), 1000); // typing notices run out
    this.draw();
  }

  join(name: string, show = true): void {
    if (!this.rooms.has(name)) {
      this.rooms.set(name, new Room(name, this.me, this.client, { changed: () => this.draw(), seen: (r) => this.seen(r) }));
      saved.saveRooms(this.me, [...this.rooms.keys()]);
    }
    if (show) this.show(name);
  }

  show(name: string): void {
    this.active = name;
    localStorage.setItem(`demo:${this.me}:active`, name);
    if (document.visibilityState === "visible") this.rooms.get(name)?.markSeen();
    this.draw();
  }

  seen(r: Room): boolean {
    return r.name === this.active && document.visibilityState === "visible";
  }

  banner(text: string): void {
    const b = $("banner");
    b.textContent = text;
    b.hidden = text === "";
  }

  /** draw repaints on the next frame, once however many changes came. */
  draw(): void {
    if (this.drawQueued) return;
    this.drawQueued = true;
    requestAnimationFrame(() => {
      this.drawQueued = false;
      this.paint();
    });
  }

  private paint(): void {
    const offline = !navigator.onLine;
    const state = offline ? "offline" : this.connState;
    $("chat").classList.toggle("offline-view", state !== "connected");
    const conn = $("conn");
    conn.className = `conn ${state}`;
    conn.textContent = { offline: "offline", connected: "online", connecting: "connecting…", disconnected: "reconnecting…", closed: "closed" }[state];
    $("transport").textContent = state === "connected" && this.client.transport === "sse" ? "via SSE fallback" : "";
    const waiting = [...this.rooms.values()].reduce((n, r) => n + r.unsent.size, 0);
    if (state === "connected") this.banner("");
    else if (offline) this.banner(`You are offline. ${waiting ? `${waiting} message(s) will be sent when you are back.` : "Messages you write are sent when you are back."}`);
    else this.banner(`Reconnecting… ${waiting ? `${waiting} message(s) waiting.` : ""}`);
    renderRooms($("rooms"), [...this.rooms.values()], this.active, (n) => this.show(n));
    const room = this.rooms.get(this.active);
    if (room) renderRoom(room, this.me);
  }
}

function start(name: string): void {
  $("login").hidden = true;
  $("chat").hidden = false;
  $("me").textContent = name;
  const app = new App(name);
  $("composer").addEventListener("submit", (e) => {
    e.preventDefault();
    const input = $<HTMLInputElement>("text");
    const text = input.value.trim();
    if (!text) return;
    app.rooms.get(app.active)?.send(text);
    input.value = "";
  });
  $("text").addEventListener("input", () => app.rooms.get(app.active)?.typed());
  $("room-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const input = $<HTMLInputElement>("room-name");
    const n = input.value.trim().toLowerCase();
    if (/^[a-z0-9_-]{1,32}$/.test(n)) app.join(n);
    input.value = "";
  });
  $("logout").addEventListener("click", () => {
    app.client.close();
    saved.name = null;
    location.reload();
  });
  (window as unknown as { heraldDemo: App }).heraldDemo = app; // for the browser tests
}

function boot(): void {
  if ("serviceWorker" in navigator) navigator.serviceWorker.register("/sw.js").catch(() => {});
  const name = saved.name;
  if (name) return start(name);
  $("login").hidden = false;
  $("login-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const n = $<HTMLInputElement>("name").value.trim();
    try {
      await tokenFor(n); // says at once when the name is refused
    } catch (err) {
      $("login-error").textContent = (err as Error).message;
      return;
    }
    saved.name = n;
    start(n);
  });
}

boot();
