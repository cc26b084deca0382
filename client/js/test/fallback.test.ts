// The choice between WebSocket and SSE: TransportPolicy on its own, and the
// client falling back and coming back over scripted in-memory sockets.
import { afterEach, describe, expect, it, vi } from "vitest";
import { HeraldClient, type HeraldClientOptions, type StateEvent, type WebSocketConstructor } from "../src/client.js";
import { longLivedSSE, type Transport, TransportPolicy, websocketRetryEvery } from "../src/transports.js";
import { authSent, FakeSocket, tick, until } from "./fakesocket.js";

/** An attempt's outcome fed to the policy: authenticated?, how long (ms), close code. */
type Outcome = [authed: boolean, lived: number, code: number];

describe("TransportPolicy", () => {
  const tests: { name: string; allowed: Transport[]; outcomes: Outcome[]; want: Transport[] }[] = [
    {
      name: "a WebSocket that never opens switches to SSE",
      allowed: ["websocket", "sse"],
      outcomes: [[false, 0, 1006]],
      want: ["websocket", "sse"],
    },
    {
      name: "a close the server sent before auth_ok keeps WebSocket",
      allowed: ["websocket", "sse"],
      outcomes: [
        [false, 0, 4001],
        [false, 0, 1012],
      ],
      want: ["websocket", "websocket", "websocket"],
    },
    {
      name: "an authenticated WebSocket that drops keeps WebSocket",
      allowed: ["websocket", "sse"],
      outcomes: [[true, 10, 1006]],
      want: ["websocket", "websocket"],
    },
    {
      name: `WebSocket again on every ${websocketRetryEvery + 1}th attempt while on SSE`,
      allowed: ["websocket", "sse"],
      outcomes: [[false, 0, 1006], ...Array.from({ length: websocketRetryEvery }, (): Outcome => [true, 10, 1006]), [false, 0, 1006]],
      want: ["websocket", ...Array<Transport>(websocketRetryEvery).fill("sse"), "websocket", "sse"],
    },
    {
      name: "WebSocket again after a long-lived SSE connection",
      allowed: ["websocket", "sse"],
      outcomes: [
        [false, 0, 1006],
        [true, longLivedSSE, 1006],
        [true, 10, 1006],
      ],
      want: ["websocket", "sse", "websocket", "websocket"],
    },
    {
      name: "WebSocket only never switches",
      allowed: ["websocket"],
      outcomes: [
        [false, 0, 1006],
        [false, 0, 1006],
      ],
      want: ["websocket", "websocket", "websocket"],
    },
    {
      name: "SSE only",
      allowed: ["sse"],
      outcomes: Array.from({ length: websocketRetryEvery + 1 }, (): Outcome => [false, 0, 1006]),
      want: Array<Transport>(websocketRetryEvery + 2).fill("sse"),
    },
  ];
  for (const tt of tests) {
    it(tt.name, () => {
      const p = new TransportPolicy(tt.allowed);
      const got: Transport[] = [];
      for (const [authed, lived, code] of tt.outcomes) {
        const t = p.pick();
        got.push(t);
        p.ended(t, authed, lived, code);
      }
      expect(p.next).toBe(tt.want[tt.want.length - 1]);
      got.push(p.pick());
      expect(got).toEqual(tt.want);
    });
  }
});

const clients: HeraldClient[] = [];

afterEach(() => {
  vi.useRealTimers();
  for (const c of clients.splice(0)) c.close();
});

/** start makes a client over fake sockets and starts connecting; it is closed after the test. */
function start(extra: Partial<HeraldClientOptions> = {}) {
  FakeSocket.all = [];
  const c = new HeraldClient({
    url: "wss://server/app/ws",
    token: async () => "t",
    WebSocket: FakeSocket as unknown as WebSocketConstructor,
    SSE: FakeSocket as unknown as WebSocketConstructor,
    backoffMin: 1,
    backoffMax: 2,
    environment: null,
    ...extra,
  });
  clients.push(c);
  const states: StateEvent[] = [];
  c.on("state", (e) => states.push(e));
  const connected = c.connect();
  return { c, states, connected };
}

/** closeAndWait closes ws from the server's side and waits for the next socket's auth. */
async function closeAndWait(ws: FakeSocket, code: number): Promise<void> {
  const n = FakeSocket.all.length;
  ws.serverClose(code);
  await until(() => FakeSocket.all.length === n + 1 && authSent());
}

/** authOK answers the auth of the newest socket. */
function authOK(): FakeSocket {
  const ws = FakeSocket.all[FakeSocket.all.length - 1];
  ws.deliver({ type: "auth_ok", id: ws.last("auth").id, connectionId: "c", userId: "u", expiresAt: 0 });
  return ws;
}

describe("HeraldClient transport fallback", () => {
  it("falls back to SSE at the derived URL when the WebSocket never opens", async () => {
    const { c, states, connected } = start();
    expect(c.transport).toBe("websocket");
    await tick(0);
    FakeSocket.all[0].serverClose(1006); // refused upgrade: no open, no close frame
    await until(() => FakeSocket.all.length === 2 && authSent());
    expect(FakeSocket.all.map((s) => s.url)).toEqual(["wss://server/app/ws", "https://server/app/sse"]);
    authOK();
    await connected;
    expect(c.transport).toBe("sse");
    expect(states.at(-1)).toMatchObject({ state: "connected", transport: "sse" });
    expect(states.find((e) => e.state === "disconnected")?.transport).toBe("sse");
    c.close();
  });

  it("falls back to SSE at sseUrl after a connect timeout", async () => {
    vi.useFakeTimers();
    const { c, connected } = start({ connectTimeout: 1000, sseUrl: "https://edge/sse" });
    await vi.advanceTimersByTimeAsync(1001); // the socket opened, but no auth_ok came
    expect(FakeSocket.all[0].closedWith).toBeDefined();
    await vi.advanceTimersByTimeAsync(10);
    expect(FakeSocket.all.map((s) => s.url)).toEqual(["wss://server/app/ws", "https://edge/sse"]);
    authOK();
    await connected;
    expect(c.transport).toBe("sse");
    c.close();
  });

  it("keeps WebSocket after a close the server sent before auth_ok", async () => {
    const { c, connected } = start();
    await tick();
    FakeSocket.all[0].serverClose(1012);
    await until(() => FakeSocket.all.length === 2 && authSent());
    expect(FakeSocket.all[1].url).toBe("wss://server/app/ws");
    authOK();
    await connected;
    expect(c.transport).toBe("websocket");
    c.close();
  });

  it(`tries WebSocket again on the ${websocketRetryEvery + 1}th attempt over SSE`, async () => {
    const { c, connected } = start();
    await tick(0);
    await closeAndWait(FakeSocket.all[0], 1006);
    authOK();
    await connected;
    for (let i = 1; i < websocketRetryEvery; i++) {
      await closeAndWait(FakeSocket.all[FakeSocket.all.length - 1], 1006);
      authOK();
    }
    await closeAndWait(FakeSocket.all[FakeSocket.all.length - 1], 1006);
    const urls = FakeSocket.all.map((s) => s.url);
    expect(urls.filter((u) => u.endsWith("/sse"))).toHaveLength(websocketRetryEvery);
    expect(urls.at(-1)).toBe("wss://server/app/ws");
    expect(c.transport).toBe("websocket");
    authOK();
    await tick();
    expect(c.state).toBe("connected");
    c.close();
  });

  it("uses SSE alone when transports says so", async () => {
    const { c, connected } = start({ transports: ["sse"], sseUrl: "http://h/sse" });
    await tick();
    authOK();
    await connected;
    expect(FakeSocket.all.map((s) => s.url)).toEqual(["http://h/sse"]);
    expect(c.transport).toBe("sse");
    c.close();
  });

  it("stays on WebSocket where fetch cannot stream and no EventSource is given (React Native)", async () => {
    vi.stubGlobal("ReadableStream", undefined);
    vi.stubGlobal("EventSource", undefined);
    try {
      const { connected } = start({ SSE: undefined });
      await tick(0);
      await closeAndWait(FakeSocket.all[0], 1006);
      expect(FakeSocket.all.map((s) => s.url)).toEqual(["wss://server/app/ws", "wss://server/app/ws"]);
      authOK();
      await connected;
    } finally {
      vi.unstubAllGlobals();
    }
  });

  it("never falls back with transports websocket only", async () => {
    const { c, connected } = start({ transports: ["websocket"] });
    await tick(0);
    await closeAndWait(FakeSocket.all[0], 1006);
    expect(FakeSocket.all.map((s) => s.url)).toEqual(["wss://server/app/ws", "wss://server/app/ws"]);
    authOK();
    await connected;
    c.close();
  });
});
