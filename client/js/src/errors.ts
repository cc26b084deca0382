import type { ErrorCode } from "./frames.js";

const known = new Set<string>(["bad_request", "unauthorized", "forbidden", "not_found", "too_large", "rate_limited", "internal"]);

/** HeraldError is an error frame from the server; an unknown code reads as `internal`. */
export class HeraldError extends Error {
  /** The error's stable code (PROTOCOL.md §9). */
  readonly code: ErrorCode;
  /** The channel the refused frame named, if any. */
  readonly channel?: string;

  constructor(code: string, message: string, channel?: string) {
    super(`herald: ${code}: ${message}`);
    this.name = "HeraldError";
    this.code = known.has(code) ? (code as ErrorCode) : "internal";
    this.channel = channel;
  }
}

/** CloseError says that the connection closed with a code that stops the client. */
export class CloseError extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
  ) {
    super(`herald: connection closed: ${code} ${reason}`);
    this.name = "CloseError";
  }
}

/** ClosedError rejects what is pending when the client is closed. */
export class ClosedError extends Error {
  constructor() {
    super("herald: client closed");
    this.name = "ClosedError";
  }
}

/** transient reports whether an error code is retried with backoff: internal and rate_limited. */
export function transient(code: string): boolean {
  return code === "internal" || code === "rate_limited";
}
