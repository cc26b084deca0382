// The admin dashboard. The same script serves both pages: the login form
// (body data-page="login") and the dashboard (data-page="dashboard"),
// which polls /admin/metrics, the very text Prometheus scrapes, every
// PollInterval and keeps ~5 minutes of each number as a chart.
import { Chart } from "./chart";
import { Inspector } from "./inspector";
import { delta, format, formatSeconds, quantile, rate, Series } from "./live";
import { type Bucket, buckets, type Metrics, parse, value } from "./promparse";

/** PollInterval is the time between two reads of the metrics, in ms. */
const PollInterval = 2000;
/** Points is how many reads the charts keep: 5 minutes' worth. */
const Points = (5 * 60 * 1000) / PollInterval;

const loginErrors: Record<string, string> = {
  login: "Wrong user or password.",
  rate: "Too many failed logins: wait a minute and try again.",
  bad: "The login could not be read.",
};

function byTestId(id: string): HTMLElement {
  const el = document.querySelector<HTMLElement>(`[data-testid="${id}"]`);
  if (!el) throw new Error(`[data-testid=${id}] missing from the page`);
  return el;
}

function toLogin(): void {
  location.assign("/admin");
}

/** login posts the form as JSON, so that a failure shows in place. */
function loginPage(): void {
  const form = document.getElementById("login-form") as HTMLFormElement;
  const err = byTestId("login-error");
  const code = new URLSearchParams(location.search).get("error");
  if (code) err.textContent = loginErrors[code] ?? loginErrors.bad;
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const data = new FormData(form);
    err.textContent = "";
    try {
      const res = await fetch("/admin/login", {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ user: data.get("user"), password: data.get("password") }),
      });
      if (res.ok) {
        location.assign("/admin");
        return;
      }
      const body = (await res.json().catch(() => ({}))) as { error?: string };
      err.textContent = res.status === 401 ? loginErrors.login : (body.error ?? `HTTP ${res.status}`);
    } catch {
      err.textContent = "The server cannot be reached.";
    }
  });
}

/** A tile is one live number (or a few) and its chart. */
interface Tile {
  series: Series;
  chart: Chart;
}

function tile(id: string, lines: number, fmt: (v: number) => string): Tile {
  const svg = document.querySelector<SVGSVGElement>(`#${id} svg.chart`);
  if (!svg) throw new Error(`#${id} has no chart`);
  const series = new Series(lines, Points);
  return { series, chart: new Chart(svg, series, fmt) };
}

/** The previous read, for rates and bucket deltas. */
interface Previous {
  at: number;
  m: Metrics;
  latency: Bucket[];
}

function dashboard(): void {
  const status = byTestId("status");
  const count = (v: number) => format(v, 0);
  const tiles = {
    connections: tile("tile-connections", 2, count),
    subscriptions: tile("tile-subscriptions", 1, count),
    channels: tile("tile-channels", 1, count),
    messages: tile("tile-messages", 2, (v) => format(v) + "/s"),
    latency: tile("tile-latency", 3, formatSeconds),
    slow: tile("tile-slow", 1, count),
    nodes: tile("tile-nodes", 1, count),
  };
  const show = (id: string, s: string) => {
    byTestId(id).textContent = s;
  };
  let prev: Previous | undefined;

  const update = (m: Metrics, at: number) => {
    const g = (name: string) => value(m, name);
    const secs = prev ? (at - prev.at) / 1000 : 0;
    const counterRate = (name: string) => rate(prev && value(prev.m, name), g(name), secs);
    const conns = g("herald_connections");
    const authed = g("herald_connections_authenticated");
    show("connections", format(conns, 0));
    show("authenticated", format(authed, 0));
    tiles.connections.series.push(conns, authed);
    show("subscriptions", format(g("herald_subscriptions"), 0));
    tiles.subscriptions.series.push(g("herald_subscriptions"));
    show("channels", format(g("herald_channels"), 0));
    tiles.channels.series.push(g("herald_channels"));
    const inRate = counterRate("herald_messages_in_total");
    const outRate = counterRate("herald_messages_out_total");
    show("messages-in-rate", format(inRate));
    show("messages-out-rate", format(outRate));
    tiles.messages.series.push(inRate, outRate);
    const cur = buckets(m, "herald_delivery_latency_seconds");
    const d = prev ? delta(prev.latency, cur) : [];
    const ps = [0.5, 0.95, 0.99].map((q) => quantile(q, d));
    show("latency-p50", formatSeconds(ps[0]));
    show("latency-p95", formatSeconds(ps[1]));
    show("latency-p99", formatSeconds(ps[2]));
    tiles.latency.series.push(...ps);
    show("slow-consumer-closes", format(g("herald_slow_consumer_closes_total"), 0));
    const slow = prev ? rate(value(prev.m, "herald_slow_consumer_closes_total"), g("herald_slow_consumer_closes_total"), 1) : undefined;
    tiles.slow.series.push(slow);
    show("nodes", format(g("herald_nodes"), 0));
    tiles.nodes.series.push(g("herald_nodes"));
    for (const t of Object.values(tiles)) t.chart.draw();
    prev = { at, m, latency: cur };
  };

  const poll = async () => {
    try {
      const res = await fetch("/admin/metrics", { credentials: "same-origin", cache: "no-store" });
      if (res.status === 401) {
        toLogin();
        return;
      }
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      const text = await res.text();
      update(parse(text), performance.now());
      status.textContent = `live · ${new Date().toLocaleTimeString()}`;
      status.className = "status live";
    } catch (e) {
      status.textContent = `no data: ${(e as Error).message}`;
      status.className = "status down";
    } finally {
      setTimeout(() => void poll(), PollInterval);
    }
  };
  void poll();

  const inspector = new Inspector(toLogin);
  void inspector.refresh();
}

if (document.body.dataset.page === "login") loginPage();
else dashboard();
