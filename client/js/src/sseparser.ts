/**
 * SSEParser reads a text/event-stream body as it arrives, in chunks cut
 * anywhere, and reports each event's name and data (the WHATWG "event
 * stream interpretation"). Lines end at CR, LF or CRLF, a CR at the end of
 * one chunk and an LF at the start of the next included; `data:` lines are
 * joined with "\n"; lines starting with ":" are comments (Herald sends one
 * of 2 KiB to push its first event through buffering proxies); `id:` and
 * `retry:` are ignored, since a Herald client never resumes a stream but
 * opens a new session. It is its own class so that it can be tested on
 * its own and used with any byte source.
 */
export class SSEParser {
  /** The start of a line whose end has not arrived yet. */
  private partial = "";
  /** Whether the last chunk ended with CR: an LF starting the next one ends no second line. */
  private afterCR = false;
  private event = "";
  private data: string[] = [];

  /** onEvent gets each event: its name ("" when it has none) and its data. */
  constructor(private readonly onEvent: (name: string, data: string) => void) {}

  /** push parses the next chunk of the stream. */
  push(chunk: string): void {
    let start = 0;
    if (this.afterCR && chunk.charCodeAt(0) === 10) start = 1;
    this.afterCR = false;
    for (let i = start; i < chunk.length; i++) {
      const ch = chunk.charCodeAt(i);
      if (ch !== 10 && ch !== 13) continue;
      const line = this.partial + chunk.slice(start, i);
      this.partial = "";
      if (ch === 13) {
        if (i + 1 === chunk.length) this.afterCR = true;
        else if (chunk.charCodeAt(i + 1) === 10) i++;
      }
      start = i + 1;
      this.line(line);
    }
    if (start < chunk.length) this.partial += chunk.slice(start);
  }

  /** line interprets one complete line. */
  private line(line: string): void {
    if (line === "") {
      // A blank line ends the event; one without data is not dispatched.
      const { event, data } = this;
      this.event = "";
      this.data = [];
      if (data.length > 0) this.onEvent(event, data.join("\n"));
      return;
    }
    if (line.charCodeAt(0) === 58) return; // ":" starts a comment
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.charCodeAt(0) === 32) value = value.slice(1);
    if (field === "event") this.event = value;
    else if (field === "data") this.data.push(value);
  }
}
