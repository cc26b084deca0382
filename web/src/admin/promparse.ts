// A parser of the Prometheus text exposition format (version 0.0.4),
// enough for what /metrics serves: samples with labels, HELP and TYPE
// lines, and the histograms' _bucket/_sum/_count series. It is written
// here rather than taken from a library because the dashboard needs a
// few dozen lines of it and carries no dependency.

/** One sample: a metric name, its labels and its value. */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parsed metrics: every sample by metric name, and the declared types. */
export interface Metrics {
  samples: Map<string, Sample[]>;
  types: Map<string, string>;
}

/** One bucket of a histogram: the count of observations <= le. */
export interface Bucket {
  le: number;
  count: number;
}

/**
 * parse reads the text format. Lines it cannot read are skipped (and
 * counted in the returned `skipped`), so that one odd metric does not
 * blank the dashboard.
 */
export function parse(text: string): Metrics & { skipped: number } {
  const samples = new Map<string, Sample[]>();
  const types = new Map<string, string>();
  let skipped = 0;
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "") continue;
    if (line.startsWith("#")) {
      const m = /^#\s*TYPE\s+(\S+)\s+(\S+)/.exec(line);
      if (m) types.set(m[1], m[2]);
      continue;
    }
    const s = parseSample(line);
    if (!s) {
      skipped++;
      continue;
    }
    let list = samples.get(s.name);
    if (!list) samples.set(s.name, (list = []));
    list.push(s);
  }
  return { samples, types, skipped };
}

/** parseValue reads a sample value, with Go's spellings of the specials. */
export function parseValue(s: string): number {
  switch (s) {
    case "+Inf":
    case "Inf":
      return Infinity;
    case "-Inf":
      return -Infinity;
    case "NaN":
      return NaN;
  }
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(s)) return NaN;
  return Number(s);
}

function parseSample(line: string): Sample | undefined {
  const nameEnd = line.search(/[{\s]/);
  if (nameEnd <= 0) return undefined;
  const name = line.slice(0, nameEnd);
  if (!/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(name)) return undefined;
  const labels: Record<string, string> = {};
  let i = nameEnd;
  if (line[i] === "{") {
    i++;
    for (;;) {
      while (line[i] === " " || line[i] === ",") i++;
      if (line[i] === "}") {
        i++;
        break;
      }
      const eq = line.indexOf("=", i);
      if (eq < 0 || line[eq + 1] !== '"') return undefined;
      const key = line.slice(i, eq).trim();
      let value = "";
      let j = eq + 2;
      for (; j < line.length && line[j] !== '"'; j++) {
        if (line[j] === "\\" && j + 1 < line.length) {
          j++;
          value += line[j] === "n" ? "\n" : line[j];
        } else {
          value += line[j];
        }
      }
      if (j >= line.length) return undefined;
      labels[key] = value;
      i = j + 1;
    }
  }
  // The value, then an optional timestamp, which the dashboard ignores.
  const rest = line.slice(i).trim().split(/\s+/);
  if (rest.length < 1 || rest.length > 2 || rest[0] === "") return undefined;
  const value = parseValue(rest[0]);
  if (Number.isNaN(value) && rest[0] !== "NaN") return undefined;
  return { name, labels, value };
}

/**
 * value returns the value of the metric's sample whose labels include
 * those given (the first such sample), or undefined.
 */
export function value(m: Metrics, name: string, labels: Record<string, string> = {}): number | undefined {
  const s = m.samples.get(name)?.find((s) => Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  return s?.value;
}

/** buckets returns a histogram's cumulative buckets, by le, +Inf last. */
export function buckets(m: Metrics, name: string): Bucket[] {
  const out: Bucket[] = [];
  for (const s of m.samples.get(name + "_bucket") ?? []) {
    const le = parseValue(s.labels.le ?? "");
    if (!Number.isNaN(le)) out.push({ le, count: s.value });
  }
  return out.sort((a, b) => a.le - b.le);
}
