// The SSE transport on its own: the event stream parser, the URL it
// derives, and SSESocket against a scripted fetch (the stream and each POST
// answered when the test says).
import { describe, expect, it } from "vitest";
import { type FetchLike, SSESocket, sseUrl } from "../src/sse.js";
import { SSEParser } from "../src/sseparser.js";
import { tick } from "./fakesocket.js";

describe("SSEParser", () => {
  const tests: { name: string; chunks: string[]; want: [string, string][] }[] = [
    { name: "one unnamed event", chunks: ['data: {"type":"pong"}\n\n'], want: [["", '{"type":"pong"}']] },
    {
      name: "named events and a comment",
      chunks: ['event: session\ndata: {"session":"S"}\n\n:' + " ".repeat(2048) + "\n\nevent: ping\ndata: {}\n\n"],
      want: [
        ["session", '{"session":"S"}'],
        ["ping", "{}"],
      ],
    },
    { name: "multi-line data joined with LF", chunks: ["data: {\ndata:   \"a\": 1\ndata: }\n\n"], want: [["", '{\n  "a": 1\n}']] },
    { name: "CRLF line ends", chunks: ["event: close\r\ndata: {}\r\n\r\ndata: x\r\n\r\n"], want: [["close", "{}"], ["", "x"]] },
    { name: "CR line ends", chunks: ["data: a\r\rdata: b\r\r"], want: [["", "a"], ["", "b"]] },
    { name: "CRLF split between chunks ends one line", chunks: ["data: a\r", "\ndata: b\r", "\n\r", "\n"], want: [["", "a\nb"]] },
    {
      name: "lines and fields split anywhere",
      chunks: ["da", "ta: he", "llo\n", "\nev", "ent: pi", "ng\ndata: {}", "\n", "\n"],
      want: [["", "hello"], ["ping", "{}"]],
    },
    { name: "no space after the colon, and a field without one", chunks: ["data:x\ndata\n\n"], want: [["", "x\n"]] },
    { name: "an event without data is not dispatched, and its name is dropped", chunks: ["event: ping\n\ndata: y\n\n"], want: [["", "y"]] },
    { name: "id, retry and unknown fields are ignored", chunks: ["id: 7\nretry: 10\nfoo: bar\ndata: z\n\n"], want: [["", "z"]] },
    { name: "an unfinished event is held back", chunks: ["data: a\n\ndata: b\n"], want: [["", "a"]] },
  ];
  for (const tt of tests) {
    it(tt.name, () => {
      const got: [string, string][] = [];
      const p = new SSEParser((name, data) => got.push([name, data]));
      for (const c of tt.chunks) p.push(c);
      expect(got).toEqual(tt.want);
    });
  }
});

describe("sseUrl", () => {
  const tests: [string, string][] = [
    ["ws://127.0.0.1:8080/ws", "http://127.0.0.1:8080/sse"],
    ["wss://chat.example.com/ws", "https://chat.example.com/sse"],
    ["wss://example.com/herald/ws?x=1", "https://example.com/herald/sse"],
    ["ws://host:1/nows", "http://host:1/sse"],
    ["WSS://host", "https://host/sse"],
  ];
  for (const [ws, want] of tests) it(ws, () => expect(sseUrl(ws)).toBe(want));
  it("refuses what is not a URL", () => expect(() => sseUrl("nope")).toThrow(/sseUrl/));
});

interface Post {
  headers: Record<string, string>;
  body: string;
  answer: (status: number) => void;
}

/** FakeServer scripts fetch: the stream's chunks and the POSTs' answers. */
class FakeServer {
  posts: Post[] = [];
  streamUrl = "";
  private chunks: (Uint8Array | null)[] = [];
  private wake?: () => void;
  private readonly enc = new TextEncoder();

  readonly fetch: FetchLike = async (url, init) => {
    if (init.method === "POST") {
      return new Promise((resolve) => {
        this.posts.push({ headers: init.headers ?? {}, body: init.body ?? "", answer: (status) => resolve({ status, body: null }) });
      });
    }
    this.streamUrl = url;
    const reader = {
      read: async (): Promise<{ done: boolean; value?: Uint8Array }> => {
        while (this.chunks.length === 0) await new Promise<void>((r) => (this.wake = r));
        const c = this.chunks.shift()!;
        return c ? { done: false, value: c } : { done: true };
      },
    };
    return { status: 200, body: { getReader: () => reader } };
  };

  /** write sends text down the stream. */
  write(text: string): void {
    this.chunks.push(this.enc.encode(text));
    this.wake?.();
  }

  /** writeBytes sends raw bytes down the stream. */
  writeBytes(b: Uint8Array): void {
    this.chunks.push(b);
    this.wake?.();
  }

  /** end ends the stream. */
  end(): void {
    this.chunks.push(null);
    this.wake?.();
  }
}

/** open makes an SSESocket on a FakeServer and opens its session. */
async function open() {
  const srv = new FakeServer();
  const ws = new SSESocket("http://h/sse", { fetch: srv.fetch });
  const got: unknown[] = [];
  const closed: { code: number; reason: string }[] = [];
  let opened = 0;
  ws.onopen = () => opened++;
  ws.onmessage = (ev) => got.push(ev.data);
  ws.onclose = (ev) => closed.push(ev);
  srv.write('event: session\ndata: {"session":"S1"}\n\n:    \n\n');
  await tick();
  expect(opened).toBe(1);
  return { srv, ws, got, closed };
}

describe("SSESocket", () => {
  it("opens on the session event and delivers unnamed events as messages", async () => {
    const { srv, ws, got } = await open();
    expect(srv.streamUrl).toBe("http://h/sse");
    expect(ws.readyState).toBe(1);
    expect(ws.session).toBe("S1");
    srv.write('data: {"type":"pong"}\n\ndata: [{"type":"a"},\ndata: {"type":"b"}]\n\n');
    await tick();
    expect(got).toEqual(['{"type":"pong"}', '[{"type":"a"},\n{"type":"b"}]']);
  });

  it("decodes UTF-8 split between chunks", async () => {
    const { srv, got } = await open();
    const bytes = new TextEncoder().encode('data: "h\u00e9\u{1F44D}"\n\n');
    const cut = bytes.indexOf(0xc3) + 1; // inside é
    srv.writeBytes(bytes.slice(0, cut));
    srv.writeBytes(bytes.slice(cut, cut + 3)); // the rest of é, and inside 👍
    srv.writeBytes(bytes.slice(cut + 3));
    await tick();
    expect(got).toEqual(['"h\u00e9\u{1F44D}"']);
  });

  it("posts one request at a time, batching what queued meanwhile as NDJSON", async () => {
    const { srv, ws } = await open();
    ws.send('{"type":"auth"}');
    ws.send('{"type":"subscribe"}');
    ws.send('{"type":"publish"}');
    await tick();
    expect(srv.posts.map((p) => p.body)).toEqual(['{"type":"auth"}']);
    expect(srv.posts[0].headers).toMatchObject({ "Herald-Session": "S1", "Content-Type": "application/x-ndjson" });
    srv.posts[0].answer(204);
    await tick();
    expect(srv.posts.map((p) => p.body)).toEqual(['{"type":"auth"}', '{"type":"subscribe"}\n{"type":"publish"}']);
  });

  it("answers a ping event with an empty POST, unless frames go anyway", async () => {
    const { srv, ws } = await open();
    srv.write("event: ping\ndata: {}\n\n");
    await tick();
    expect(srv.posts.map((p) => p.body)).toEqual([""]);
    ws.send('{"type":"x"}');
    srv.write("event: ping\ndata: {}\n\n");
    srv.posts[0].answer(204);
    await tick();
    expect(srv.posts.map((p) => p.body)).toEqual(["", '{"type":"x"}']);
    srv.posts[1].answer(204);
    await tick();
    expect(srv.posts).toHaveLength(2);
  });

  const ends: { name: string; script: (s: FakeServer, ws: SSESocket) => void; want: number }[] = [
    { name: "a close event gives its code", script: (s) => s.write('event: close\ndata: {"code":4001,"reason":"auth"}\n\n'), want: 4001 },
    { name: "a stream ending without a close event is 1006", script: (s) => s.end(), want: 1006 },
    {
      name: "a POST answered 404 is 1006 (session gone)",
      script: (s, ws) => {
        ws.send("{}");
        void tick().then(() => s.posts[0].answer(404));
      },
      want: 1006,
    },
    {
      name: "a POST answered 413 waits for the close event",
      script: (s, ws) => {
        ws.send("{}");
        void tick().then(() => {
          s.posts[0].answer(413);
          return tick().then(() => s.write('event: close\ndata: {"code":1009,"reason":"frame too large"}\n\n'));
        });
      },
      want: 1009,
    },
  ];
  for (const tt of ends) {
    it(tt.name, async () => {
      const { srv, ws, closed } = await open();
      tt.script(srv, ws);
      await tick(30);
      expect(closed.map((c) => c.code)).toEqual([tt.want]);
      expect(ws.readyState).toBe(3);
      expect(() => ws.send("{}")).toThrow();
    });
  }

  it("close() reports its own code once", async () => {
    const { srv, ws, closed } = await open();
    ws.close(4000, "bye");
    srv.end();
    await tick();
    expect(closed).toEqual([{ code: 4000, reason: "bye" }]);
  });

  it("fails with 1006 when the stream is refused", async () => {
    const ws = new SSESocket("http://h/sse", { fetch: async () => ({ status: 503, body: null }) });
    const closed: number[] = [];
    ws.onclose = (ev) => closed.push(ev.code);
    await tick();
    expect(closed).toEqual([1006]);
  });

  it("reads the stream with an EventSource when given one", async () => {
    const made: FakeES[] = [];
    class FakeES {
      onmessage: ((ev: { data: string }) => void) | null = null;
      onerror: ((ev: unknown) => void) | null = null;
      listeners = new Map<string, (ev: { data: string }) => void>();
      closed = false;
      constructor(readonly url: string) {
        made.push(this);
      }
      addEventListener(type: string, fn: (ev: { data: string }) => void): void {
        this.listeners.set(type, fn);
      }
      close(): void {
        this.closed = true;
      }
    }
    const srv = new FakeServer();
    const ws = new SSESocket("http://h/sse", { fetch: srv.fetch, EventSource: FakeES });
    const got: unknown[] = [];
    const closed: number[] = [];
    ws.onmessage = (ev) => got.push(ev.data);
    ws.onclose = (ev) => closed.push(ev.code);
    const es = made[0];
    expect(es.url).toBe("http://h/sse");
    es.listeners.get("session")!({ data: '{"session":"S2"}' });
    expect(ws.readyState).toBe(1);
    es.onmessage!({ data: '{"type":"pong"}' });
    ws.send('{"type":"ping"}');
    await tick();
    expect(srv.posts[0]).toMatchObject({ body: '{"type":"ping"}', headers: { "Herald-Session": "S2" } });
    es.onerror!({}); // EventSource would reconnect by itself: the socket ends instead
    expect(got).toEqual(['{"type":"pong"}']);
    expect(closed).toEqual([1006]);
    expect(es.closed).toBe(true);
  });
});
