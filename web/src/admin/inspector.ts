// The channel inspector: the channels with subscribers on this node, and
// for the one picked, its presence and its last 20 messages, read from
// the server API through /admin/api/ (the session cookie is the only
// credential the page holds; the server adds the API key).

/** The answer of GET /api/channels. */
interface ChannelsPage {
  channels: { name: string; subscribers: number }[];
  /** The nodes sharing the broker, and how many of them the list covers. */
  nodes?: number;
  answered?: number;
}

/** The answer of GET /api/presence. */
interface PresenceAnswer {
  members: { userId: string; connections: number; info?: unknown }[];
}

/** The answer of GET /api/history. */
interface HistoryAnswer {
  head: number;
  publications: { seq: number; id?: string; event?: string; payload?: unknown; timestamp: number; from?: string }[];
}

/** HistoryLimit is how many of a channel's latest messages are shown. */
export const HistoryLimit = 20;

/** onUnauthorized is called when the session has ended. */
type OnUnauthorized = () => void;

async function getJSON<T>(path: string, onUnauthorized: OnUnauthorized): Promise<T> {
  const res = await fetch(path, { credentials: "same-origin", cache: "no-store" });
  if (res.status === 401) onUnauthorized();
  const body = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error((body as { error?: string; message?: string }).error ?? (body as { message?: string }).message ?? `HTTP ${res.status}`);
  return body as T;
}

function byId<T extends HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (!el) throw new Error(`#${id} missing from the page`);
  return el as T;
}

function text(tag: string, s: string, cls?: string): HTMLElement {
  const el = document.createElement(tag);
  el.textContent = s;
  if (cls) el.className = cls;
  return el;
}

/** preview shows a payload as JSON, cut to a line's worth. */
export function preview(payload: unknown, max = 200): string {
  const s = payload === undefined ? "" : JSON.stringify(payload);
  return s.length > max ? s.slice(0, max - 1) + "…" : s;
}

export class Inspector {
  private current = "";

  constructor(private readonly onUnauthorized: OnUnauthorized) {
    byId("channels-refresh").addEventListener("click", () => void this.refresh());
    byId<HTMLFormElement>("inspect-form").addEventListener("submit", (e) => {
      e.preventDefault();
      const name = byId<HTMLInputElement>("inspect-input").value.trim();
      if (name) void this.inspect(name);
    });
  }

  /** refresh lists the channels again (the first 1000, by name). */
  async refresh(): Promise<void> {
    const list = byId("channel-list");
    const err = byId("channels-error");
    try {
      const page = await getJSON<ChannelsPage>("/admin/api/channels?limit=1000", this.onUnauthorized);
      const nodes = page.nodes ?? 1;
      const answered = page.answered ?? 1;
      byId("channels-scope").textContent = nodes > 1 ? `(${answered} of ${nodes} nodes)` : "";
      err.textContent =
        answered < nodes
          ? `${nodes - answered} node(s) did not answer in time: their channels are missing.`
          : page.channels.length === 0
            ? "No channel has subscribers."
            : "";
      list.replaceChildren(
        ...page.channels.map((c) => {
          const b = document.createElement("button");
          b.type = "button";
          b.dataset.testid = "channel-item";
          b.dataset.channel = c.name;
          b.classList.toggle("active", c.name === this.current);
          b.append(text("span", c.name), text("span", String(c.subscribers), "count"));
          b.addEventListener("click", () => void this.inspect(c.name));
          const li = document.createElement("li");
          li.append(b);
          return li;
        }),
      );
    } catch (e) {
      err.textContent = `Could not list the channels: ${(e as Error).message}`;
    }
  }

  /** inspect shows a channel's presence and recent history. */
  async inspect(channel: string): Promise<void> {
    this.current = channel;
    byId("detail").hidden = false;
    byId("inspected-channel").textContent = channel;
    for (const b of byId("channel-list").querySelectorAll<HTMLButtonElement>("button")) {
      b.classList.toggle("active", b.dataset.channel === channel);
    }
    const q = encodeURIComponent(channel);
    await Promise.all([this.presence(q), this.history(q)]);
  }

  private async presence(q: string): Promise<void> {
    const list = byId("presence-list");
    const err = byId("presence-error");
    list.replaceChildren();
    try {
      const p = await getJSON<PresenceAnswer>(`/admin/api/presence?channel=${q}`, this.onUnauthorized);
      err.textContent = p.members.length === 0 ? "Nobody is subscribed." : "";
      list.replaceChildren(
        ...p.members.map((m) => {
          const li = text("li", `${m.userId} (${m.connections} connection${m.connections === 1 ? "" : "s"})`);
          li.dataset.testid = "presence-member";
          li.dataset.user = m.userId;
          if (m.info !== undefined) li.title = preview(m.info);
          return li;
        }),
      );
    } catch (e) {
      err.textContent = `Presence: ${(e as Error).message}`;
    }
  }

  private async history(q: string): Promise<void> {
    const body = byId("history-list");
    const err = byId("history-error");
    body.replaceChildren();
    try {
      // before is past any head: the newest page.
      const h = await getJSON<HistoryAnswer>(
        `/admin/api/history?channel=${q}&limit=${HistoryLimit}&before=${Number.MAX_SAFE_INTEGER}`,
        this.onUnauthorized,
      );
      err.textContent = h.publications.length === 0 ? `No message retained (head ${h.head}).` : "";
      body.replaceChildren(
        ...h.publications
          .slice()
          .reverse()
          .map((p) => {
            const tr = document.createElement("tr");
            tr.dataset.testid = "history-item";
            tr.dataset.seq = String(p.seq);
            tr.append(
              text("td", String(p.seq)),
              text("td", new Date(p.timestamp).toLocaleTimeString()),
              text("td", p.from ?? ""),
              text("td", p.event ?? ""),
              text("td", preview(p.payload), "payload"),
            );
            return tr;
          }),
      );
    } catch (e) {
      err.textContent = `History: ${(e as Error).message}`;
    }
  }
}
