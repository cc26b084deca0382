// Unit tests of the dashboard's Prometheus text parser and of the
// arithmetic it feeds (rates, bucket deltas, percentiles).
import { describe, expect, it } from "vitest";
import { delta, format, formatSeconds, quantile, rate, Series } from "../src/admin/live";
import { buckets, parse, parseValue, value } from "../src/admin/promparse";

// A trimmed scrape of a node's /metrics, as promhttp writes it.
const scrape = `# HELP herald_connections Open client connections.
# TYPE herald_connections gauge
herald_connections 3
# HELP herald_messages_in_total Publishes stored.
# TYPE herald_messages_in_total counter
herald_messages_in_total 1.5e+06
# HELP herald_delivery_latency_seconds Publish to deliver latency.
# TYPE herald_delivery_latency_seconds histogram
herald_delivery_latency_seconds_bucket{le="0.001"} 10
herald_delivery_latency_seconds_bucket{le="0.005"} 90
herald_delivery_latency_seconds_bucket{le="0.01"} 100
herald_delivery_latency_seconds_bucket{le="+Inf"} 100
herald_delivery_latency_seconds_sum 0.3
herald_delivery_latency_seconds_count 100
go_gc_duration_seconds{quantile="0.5"} 4.2e-05
go_info{version="go1.26 \\"x\\"\\\\y"} 1
process_start_time_seconds 1.7e+09 1711234567890
`;

describe("parse", () => {
  const m = parse(scrape);
  const tests: { name: string; metric: string; labels?: Record<string, string>; want: number | undefined }[] = [
    { name: "gauge", metric: "herald_connections", want: 3 },
    { name: "counter in exponent notation", metric: "herald_messages_in_total", want: 1.5e6 },
    { name: "histogram sum", metric: "herald_delivery_latency_seconds_sum", want: 0.3 },
    { name: "sample with a label", metric: "go_gc_duration_seconds", labels: { quantile: "0.5" }, want: 4.2e-5 },
    { name: "escaped label value", metric: "go_info", labels: { version: 'go1.26 "x"\\y' }, want: 1 },
    { name: "timestamp ignored", metric: "process_start_time_seconds", want: 1.7e9 },
    { name: "missing metric", metric: "herald_nodes", want: undefined },
    { name: "labels that match nothing", metric: "go_gc_duration_seconds", labels: { quantile: "0.9" }, want: undefined },
  ];
  for (const tt of tests) {
    it(tt.name, () => expect(value(m, tt.metric, tt.labels)).toBe(tt.want));
  }
  it("reads TYPE lines", () => {
    expect(m.types.get("herald_delivery_latency_seconds")).toBe("histogram");
    expect(m.types.get("herald_connections")).toBe("gauge");
  });
  it("reads the buckets in order, +Inf last", () => {
    expect(buckets(m, "herald_delivery_latency_seconds")).toEqual([
      { le: 0.001, count: 10 },
      { le: 0.005, count: 90 },
      { le: 0.01, count: 100 },
      { le: Infinity, count: 100 },
    ]);
  });
  it("skips lines it cannot read and keeps the rest", () => {
    const bad = parse('ok 1\n9bad 2\nunclosed{a="b 3\nnovalue\ntoo many fields 1 2 3\nnotanumber abc\nalso_ok{} 4\n');
    expect(bad.skipped).toBe(5);
    expect(value(bad, "ok")).toBe(1);
    expect(value(bad, "also_ok")).toBe(4);
  });
  it("reads the special values", () => {
    expect(parseValue("+Inf")).toBe(Infinity);
    expect(parseValue("-Inf")).toBe(-Infinity);
    expect(parseValue("NaN")).toBeNaN();
    expect(parseValue("1e3")).toBe(1000);
    expect(parseValue("0x10")).toBeNaN();
  });
});

describe("rate", () => {
  const tests: { name: string; prev?: number; cur?: number; secs: number; want: number | undefined }[] = [
    { name: "steady", prev: 100, cur: 140, secs: 2, want: 20 },
    { name: "idle", prev: 5, cur: 5, secs: 2, want: 0 },
    { name: "reset counts from zero", prev: 1000, cur: 30, secs: 2, want: 15 },
    { name: "no previous read", cur: 5, secs: 2, want: undefined },
    { name: "no time passed", prev: 1, cur: 2, secs: 0, want: undefined },
  ];
  for (const tt of tests) it(tt.name, () => expect(rate(tt.prev, tt.cur, tt.secs)).toBe(tt.want));
});

describe("quantile over an interval", () => {
  const le = [0.001, 0.005, 0.01, Infinity];
  const bs = (...counts: number[]) => counts.map((count, i) => ({ le: le[i], count }));
  const tests: { name: string; prev?: number[]; cur: number[]; q: number; want: number | undefined }[] = [
    // 100 observations: 10 up to 1 ms, 80 more up to 5 ms, 10 more up to 10 ms.
    { name: "p50 inside the second bucket", cur: [10, 90, 100, 100], q: 0.5, want: 0.001 + (0.004 * 40) / 80 },
    { name: "p99 inside the third bucket", cur: [10, 90, 100, 100], q: 0.99, want: 0.005 + (0.005 * 9) / 10 },
    { name: "first bucket starts at 0", cur: [10, 90, 100, 100], q: 0.05, want: 0.0005 },
    { name: "in the +Inf bucket: highest finite bound", cur: [0, 0, 1, 10], q: 0.99, want: 0.01 },
    { name: "no observation", cur: [0, 0, 0, 0], q: 0.5, want: undefined },
    // Only what happened since the last read counts: 10 new, all slow.
    { name: "delta of cumulative buckets", prev: [10, 90, 100, 100], cur: [10, 90, 110, 110], q: 0.5, want: 0.0075 },
    { name: "idle interval", prev: [10, 90, 100, 100], cur: [10, 90, 100, 100], q: 0.5, want: undefined },
    { name: "reset: the new counts", prev: [10, 90, 100, 100], cur: [2, 2, 2, 2], q: 0.5, want: 0.0005 },
  ];
  for (const tt of tests) {
    it(tt.name, () => {
      const got = quantile(tt.q, delta(tt.prev ? bs(...tt.prev) : undefined, bs(...tt.cur)));
      if (tt.want === undefined) expect(got).toBeUndefined();
      else expect(got).toBeCloseTo(tt.want, 9);
    });
  }
});

describe("Series", () => {
  it("keeps the last points of each line", () => {
    const s = new Series(2, 3);
    for (let i = 1; i <= 5; i++) s.push(i, i === 4 ? undefined : -i);
    expect(s.lines).toEqual([
      [3, 4, 5],
      [-3, undefined, -5],
    ]);
  });
});

describe("format", () => {
  const tests: [number | undefined, string][] = [
    [undefined, "–"],
    [0, "0"],
    [1234, "1234"],
    [12345, "12.3k"],
    [2.5e6, "2.5M"],
    [0.25, "0.3"],
  ];
  for (const [v, want] of tests) it(`${v} -> ${want}`, () => expect(format(v)).toBe(want));
  it("latencies", () => {
    expect(formatSeconds(0.0008)).toBe("0.8 ms");
    expect(formatSeconds(0.012)).toBe("12 ms");
    expect(formatSeconds(1.5)).toBe("1.5 s");
  });
});
