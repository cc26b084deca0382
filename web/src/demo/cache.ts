// The demo's own copy of what each room showed, in localStorage, so that a
// reload — even while offline — shows the conversation at once. The SDK
// keeps the rest (lastSeq and unsent messages) in its storage, and the
// server replays what came after.

/** One message as the demo shows it. */
export interface ShownMessage {
  seq: number;
  id: string;
  from: string;
  text: string;
  time: number;
}

/** How many messages of a room the cache keeps. */
const keep = 200;

/** MessageCache stores the newest messages of one user's room. */
export class MessageCache {
  private readonly key: string;

  constructor(user: string, channel: string) {
    this.key = `demo:${user}:messages:${channel}`;
  }

  load(): ShownMessage[] {
    try {
      const v = JSON.parse(localStorage.getItem(this.key) ?? "[]");
      return Array.isArray(v) ? (v as ShownMessage[]).filter((m) => Number.isSafeInteger(m?.seq)) : [];
    } catch {
      return [];
    }
  }

  save(messages: Iterable<ShownMessage>): void {
    const all = [...messages].sort((a, b) => a.seq - b.seq).slice(-keep);
    try {
      localStorage.setItem(this.key, JSON.stringify(all));
    } catch {
      // Storage full or denied: the cache is an optimisation only.
    }
  }

  clear(): void {
    localStorage.removeItem(this.key);
  }
}

/** text returns a payload's text: the demo publishes {text}. */
export function textOf(payload: unknown): string {
  if (payload && typeof payload === "object" && typeof (payload as { text?: unknown }).text === "string") {
    return (payload as { text: string }).text;
  }
  return JSON.stringify(payload);
}
