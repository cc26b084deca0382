/** The ways a client reaches the server: WebSocket, or SSE + POST (PROTOCOL.md §19). */
export type Transport = "websocket" | "sse";

/** After this many connection attempts over SSE, the next one tries WebSocket again. */
export const websocketRetryEvery = 5;

/** An SSE connection authenticated for this long (ms) makes the next attempt try WebSocket again. */
export const longLivedSSE = 60_000;

/**
 * TransportPolicy picks the transport of each connection attempt, as
 * PROTOCOL.md §19 asks: WebSocket first; SSE for the following attempts
 * once a WebSocket attempt fails before auth_ok without the server having
 * closed it (never opened, cut with 1006, or no auth_ok within the connect
 * timeout: what a proxy that blocks WebSocket does); WebSocket again on
 * every websocketRetryEvery-th attempt and after an SSE connection that
 * lived longLivedSSE ends (the network may have changed). A WebSocket that
 * reaches auth_ok makes WebSocket the choice again. A close the server
 * sent before auth_ok (4001 …) says WebSocket works and changes nothing.
 * With a single allowed transport it always picks that one.
 */
export class TransportPolicy {
  private mode: Transport;
  /** Attempts over SSE since WebSocket was last tried. */
  private sinceWebSocket = 0;

  constructor(readonly allowed: readonly Transport[]) {
    if (allowed.length === 0) throw new Error("herald: no transport allowed");
    this.mode = allowed[0];
  }

  /** The transport the next attempt will use, without counting it. */
  get next(): Transport {
    return this.probeDue() ? "websocket" : this.mode;
  }

  /** pick returns the transport of the next attempt and counts it. */
  pick(): Transport {
    if (this.probeDue()) {
      this.sinceWebSocket = 0;
      return "websocket";
    }
    if (this.mode === "sse") this.sinceWebSocket++;
    return this.mode;
  }

  /**
   * ended reports how an attempt over transport t ended: whether it was
   * authenticated, how long for (ms), and its close code.
   */
  ended(t: Transport, authed: boolean, lived: number, code: number): void {
    if (!this.allowed.includes("sse") || !this.allowed.includes("websocket")) return;
    if (t === "websocket") {
      if (authed) this.mode = "websocket";
      else if (code === 1005 || code === 1006 || code === 1015) this.mode = "sse";
      return;
    }
    if (authed && lived >= longLivedSSE) this.sinceWebSocket = websocketRetryEvery;
  }

  private probeDue(): boolean {
    return this.mode === "sse" && this.allowed.includes("websocket") && this.sinceWebSocket >= websocketRetryEvery;
  }
}
