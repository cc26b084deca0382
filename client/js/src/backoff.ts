/**
 * Backoff computes reconnect and retry delays: exponential growth with full
 * jitter (a uniformly random delay between 0 and the current ceiling), so
 * that a crowd of clients that lost the same server spreads over the whole
 * window instead of coming back in waves. It mirrors the Go SDK's backoff.
 */
export class Backoff {
  /** Failed attempts since the last reset. */
  attempt: number;

  /**
   * @param min first ceiling, in milliseconds
   * @param max largest ceiling, in milliseconds
   * @param jitter returns a random number in [0, n); tests replace it
   */
  constructor(
    readonly min: number,
    readonly max: number,
    readonly jitter: (n: number) => number = (n) => Math.random() * n,
    attempt = 0,
  ) {
    this.attempt = attempt;
  }

  /** The upper bound of the next delay: min doubled once per failed attempt, capped at max. */
  ceiling(): number {
    let d = this.min;
    for (let i = 0; i < this.attempt && d < this.max; i++) d *= 2;
    return Math.min(d, this.max);
  }

  /** The delay before the next attempt; it counts the attempt. */
  next(): number {
    const c = this.ceiling();
    this.attempt++;
    return c <= 0 ? 0 : this.jitter(c);
  }

  /** Starts over after a connection that stayed healthy. */
  reset(): void {
    this.attempt = 0;
  }
}
