// A scripted in-memory WebSocket for the client's tests: it opens on the
// next tick, records what the client sends, and delivers frames and closes
// when the test says.
import type { WebSocketLike } from "../src/client.js";
import type { ClientFrame, ServerFrame } from "../src/frames.js";

/** FakeSocket is a WebSocket whose server is the test; all holds every one made, in order. */
export class FakeSocket implements WebSocketLike {
  static all: FakeSocket[] = [];
  readyState = 0;
  sent: ClientFrame[] = [];
  closedWith: number | undefined;
  onopen: ((ev: unknown) => void) | null = null;
  onmessage: ((ev: { data: unknown }) => void) | null = null;
  onclose: ((ev: { code: number; reason: string }) => void) | null = null;
  onerror: ((ev: unknown) => void) | null = null;

  constructor(readonly url: string) {
    FakeSocket.all.push(this);
    setTimeout(() => {
      this.readyState = 1;
      this.onopen?.({});
    });
  }

  send(data: string): void {
    const v = JSON.parse(data) as ClientFrame | ClientFrame[];
    this.sent.push(...(Array.isArray(v) ? v : [v]));
  }

  close(code = 1000): void {
    this.closedWith = code;
  }

  /** deliver sends server frames to the client. */
  deliver(...frames: ServerFrame[]): void {
    this.onmessage?.({ data: JSON.stringify(frames.length === 1 ? frames[0] : frames) });
  }

  /** serverClose closes the socket from the server's side. */
  serverClose(code: number): void {
    this.readyState = 3;
    this.onclose?.({ code, reason: "" });
  }

  last<T extends ClientFrame["type"]>(type: T): Extract<ClientFrame, { type: T }> {
    const f = [...this.sent].reverse().find((x) => x.type === type);
    if (!f) throw new Error(`no ${type} sent`);
    return f as Extract<ClientFrame, { type: T }>;
  }
}

/** tick waits ms milliseconds (5 by default). */
export const tick = (ms = 5) => new Promise((r) => setTimeout(r, ms));

/** until waits for cond, polling every few ms, failing after ms. */
export async function until(cond: () => boolean, ms = 2000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error("timed out waiting");
    await tick(2);
  }
}

/** authSent is whether the newest socket has sent its auth frame. */
export function authSent(): boolean {
  const ws = FakeSocket.all[FakeSocket.all.length - 1];
  return ws !== undefined && ws.sent.some((f) => f.type === "auth");
}
