import type { ClientFrame, ServerFrame } from "./frames.js";

interface Request {
  frame: ClientFrame & { id: string };
  resolve: (f: ServerFrame) => void;
  reject: (err: Error) => void;
}

/**
 * Requests keeps the requests answered by id (history, presence) until
 * their answer comes, so that they can be asked again after a reconnect.
 */
export class Requests {
  private readonly pending = new Map<string, Request>();

  /** add keeps frame and returns the promise of its answer. */
  add(frame: ClientFrame & { id: string }): Promise<ServerFrame> {
    return new Promise<ServerFrame>((resolve, reject) => {
      this.pending.set(frame.id, { frame, resolve, reject });
    });
  }

  /** The frame of the request with id, if it waits for an answer. */
  get(id: string): (ClientFrame & { id: string }) | undefined {
    return this.pending.get(id)?.frame;
  }

  /** answer resolves the request with f's id and says whether there was one. */
  answer(f: ServerFrame & { id?: string }): boolean {
    const r = f.id ? this.pending.get(f.id) : undefined;
    if (!r) return false;
    this.pending.delete(f.id!);
    r.resolve(f);
    return true;
  }

  /** fail rejects the request with id with err. */
  fail(id: string, err: Error): void {
    const r = this.pending.get(id);
    if (!r) return;
    this.pending.delete(id);
    r.reject(err);
  }

  /** The frames of every waiting request, to ask again on a new connection. */
  frames(): ClientFrame[] {
    return [...this.pending.values()].map((r) => r.frame);
  }

  /** failAll rejects every waiting request with err. */
  failAll(err: Error): void {
    for (const r of this.pending.values()) r.reject(err);
    this.pending.clear();
  }
}
