// Drawing the demo with DOM calls (never innerHTML: messages are user text).
import type { Room, Tick } from "./room.js";

const $ = (id: string) => document.getElementById(id) as HTMLElement;

function el(tag: string, cls: string, text?: string): HTMLElement {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

const tickText: Record<Tick, string> = { sending: "○", sent: "✓", delivered: "✓✓", read: "✓✓", failed: "⚠ not sent" };

function clock(ms: number): string {
  return new Date(ms).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

/** row draws one message; own messages carry a tick. */
function row(room: Room, me: string, m: { seq?: number; id: string; from: string; text: string; time?: number }, tick?: Tick): HTMLElement {
  const li = el("li", m.from === me ? "msg mine" : "msg");
  li.dataset.testid = "message";
  li.dataset.id = m.id;
  li.dataset.from = m.from;
  if (m.seq !== undefined) li.dataset.seq = String(m.seq);
  if (m.from !== me) li.append(el("div", "from", m.from));
  li.append(el("div", "text", m.text));
  const meta = el("div", "meta", m.time ? clock(m.time) : "");
  if (tick) {
    li.dataset.state = tick;
    const t = el("span", `tick ${tick}`, tickText[tick]);
    t.title = tick;
    meta.append(t);
  }
  li.append(meta);
  return li;
}

/** renderRoom draws the active room: messages, unsent ones last, typing and who is online. */
export function renderRoom(room: Room, me: string): void {
  $("room-title").textContent = `# ${room.name}`;
  const list = $("messages");
  const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
  const rows: HTMLElement[] = [];
  if (room.notice) rows.push(el("li", "notice", room.notice));
  for (const m of room.ordered()) rows.push(row(room, me, m, m.from === me ? room.tick(m) : undefined));
  for (const u of room.unsent.values()) rows.push(row(room, me, { id: u.id, from: me, text: u.text }, u.failed ? "failed" : "sending"));
  list.replaceChildren(...rows);
  if (atBottom) list.scrollTop = list.scrollHeight;

  const typists = room.typists();
  $("typing").textContent =
    typists.length === 0 ? "" : typists.length === 1 ? `${typists[0]} is typing…` : `${typists.join(", ")} are typing…`;

  const online = $("online");
  online.replaceChildren(
    ...[...room.members.keys()].sort().map((u) => {
      const li = el("li", "", u === me ? `${u} (you)` : u);
      li.dataset.user = u;
      return li;
    }),
  );
  $("online-count").textContent = room.memberCount ? `(${room.memberCount})` : "";
}

/** renderRooms draws the room list with unread counts. */
export function renderRooms(list: HTMLElement, rooms: Room[], active: string, pick: (name: string) => void): void {
  list.replaceChildren(
    ...rooms.map((r) => {
      const li = el("li", r.name === active ? "active" : "", `# ${r.name}`);
      li.dataset.room = r.name;
      if (r.unread > 0 && r.name !== active) li.append(el("span", "unread", String(r.unread)));
      li.addEventListener("click", () => pick(r.name));
      return li;
    }),
  );
}
