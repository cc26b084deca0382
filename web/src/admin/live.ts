// The arithmetic of the live numbers: rates from counters and latency
// percentiles from the histogram's buckets, each over the interval
// between two scrapes, as Prometheus' rate() and histogram_quantile()
// would compute them.
import type { Bucket } from "./promparse";

/**
 * rate is the per-second increase of a counter from prev to cur over
 * seconds. A counter that went down was reset (the node restarted): its
 * new value is what it counted since.
 */
export function rate(prev: number | undefined, cur: number | undefined, seconds: number): number | undefined {
  if (prev === undefined || cur === undefined || !(seconds > 0)) return undefined;
  const d = cur >= prev ? cur - prev : cur;
  return d / seconds;
}

/**
 * delta is the observations made between two snapshots of the same
 * cumulative buckets; after a reset (any count went down) it is cur.
 */
export function delta(prev: Bucket[] | undefined, cur: Bucket[]): Bucket[] {
  if (!prev || prev.length !== cur.length || prev.some((b, i) => b.le !== cur[i].le || b.count > cur[i].count)) {
    return cur;
  }
  return cur.map((b, i) => ({ le: b.le, count: b.count - prev[i].count }));
}

/**
 * quantile is the q-quantile (0..1) of cumulative buckets, interpolated
 * linearly inside the bucket it falls in, as histogram_quantile() does:
 * undefined with no observation; in the +Inf bucket, the highest finite
 * bound. The first bucket starts at 0.
 */
export function quantile(q: number, bs: Bucket[]): number | undefined {
  if (bs.length === 0) return undefined;
  const total = bs[bs.length - 1].count;
  if (!(total > 0)) return undefined;
  const rank = q * total;
  let prevLe = 0;
  let prevCount = 0;
  for (const b of bs) {
    if (b.count >= rank) {
      if (b.le === Infinity) return prevLe;
      if (b.count === prevCount) return b.le;
      return prevLe + ((b.le - prevLe) * (rank - prevCount)) / (b.count - prevCount);
    }
    prevLe = b.le;
    prevCount = b.count;
  }
  return prevLe;
}

/** Series keeps the last `size` points of one or more lines. */
export class Series {
  readonly lines: (number | undefined)[][];

  constructor(
    lines: number,
    readonly size: number,
  ) {
    this.lines = Array.from({ length: lines }, () => []);
  }

  /** push adds a point to each line (undefined leaves a gap). */
  push(...values: (number | undefined)[]): void {
    this.lines.forEach((l, i) => {
      l.push(values[i]);
      if (l.length > this.size) l.splice(0, l.length - this.size);
    });
  }
}

/** format shows a number briefly: 1234 -> "1234", 12345 -> "12.3k". */
export function format(v: number | undefined, digits = 1): string {
  if (v === undefined || Number.isNaN(v)) return "–";
  const a = Math.abs(v);
  if (a >= 1e9) return (v / 1e9).toFixed(digits) + "G";
  if (a >= 1e6) return (v / 1e6).toFixed(digits) + "M";
  if (a >= 1e4) return (v / 1e3).toFixed(digits) + "k";
  if (Number.isInteger(v)) return String(v);
  return v.toFixed(a >= 100 ? 0 : digits);
}

/** formatSeconds shows a latency: "0.8 ms", "12 ms", "1.5 s". */
export function formatSeconds(v: number | undefined): string {
  if (v === undefined || Number.isNaN(v)) return "–";
  if (v < 0.01) return (v * 1000).toFixed(1) + " ms";
  if (v < 1) return Math.round(v * 1000) + " ms";
  return v.toFixed(1) + " s";
}
