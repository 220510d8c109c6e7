/**
 * Live charts: `GET /v1/operator/stats` every 2 s, rates and quantiles from the differences
 * between snapshots (stats.ts), drawn over the last five minutes.
 */
import { api, describeError } from "./api.js";
import { fill, h } from "./dom.js";
import { lineChart, type Series } from "./line-chart.js";
import { pointBetween, type Point, type StatsSnapshot } from "./stats.js";

const POLL_MS = 2000;
const WINDOW_MS = 5 * 60_000;
const PALETTE = ["#cf222e", "#bc4c00", "#8250df", "#0969da", "#9a6700", "#57606a", "#bf3989"];

/** Kept across visits of the view, so coming back shows the minutes already seen. */
const history: Point[] = [];
let last: StatsSnapshot | undefined;

function series(name: string, colour: string, pick: (p: Point) => number | undefined): Series {
  return { name, colour, points: history.map((p) => ({ atMs: p.atMs, value: pick(p) })) };
}

function charts(endMs: number): HTMLElement[] {
  const reasons = [...new Set(history.flatMap((p) => Object.keys(p.abortsPerSecByReason)))].sort();
  const chart = (title: string, unit: string, lines: Series[]) =>
    lineChart(title, unit, lines, endMs, WINDOW_MS);
  return [
    chart("Throughput (transactions per second)", "/s", [
      series("committed", "#1a7f37", (p) => p.committedPerSec),
      series("aborted", "#cf222e", (p) => p.abortedPerSec),
      series("retries", "#9a6700", (p) => p.retriesPerSec),
    ]),
    chart(
      "Aborts by reason (per second)",
      "/s",
      reasons.map((r, i) =>
        series(r, PALETTE[i % PALETTE.length] ?? "#57606a", (p) => p.abortsPerSecByReason[r] ?? 0),
      ),
    ),
    chart("Latency, end to end (p50, p99)", "s", [
      series("p50", "#0969da", (p) => p.p50.end_to_end),
      series("p99", "#8250df", (p) => p.p99.end_to_end),
    ]),
    chart(
      "Latency p99 by phase",
      "s",
      ["prepare", "decide", "phase2"].map((phase, i) =>
        series(phase, PALETTE[i + 2] ?? "#57606a", (p) => p.p99[phase]),
      ),
    ),
    chart("In flight and in doubt", "", [
      series("in flight", "#0969da", (p) => p.inFlight),
      series("undecided", "#9a6700", (p) => p.undecided),
      series("decided, unacknowledged", "#cf222e", (p) => p.unacked),
    ]),
  ];
}

export function renderCharts(view: HTMLElement): () => void {
  const status = h("p", { class: "muted" }, "waiting for two snapshots…");
  const grid = h("div", { class: "charts", id: "charts" });
  fill(view, h("h1", {}, "Live charts"), status, grid);
  const poll = async () => {
    try {
      const snap = (await api("GET", "/v1/operator/stats")) as StatsSnapshot;
      const point = last ? pointBetween(last, snap) : undefined;
      last = snap;
      if (point) history.push(point);
      while (history.length > 0 && (history[0]?.atMs ?? 0) < Date.parse(snap.at) - WINDOW_MS)
        history.shift();
      fill(
        status,
        `snapshot ${snap.at} · coordinator up ${Math.round(snap.uptimeSeconds)} s · totals: ${snap.transactions.committed} committed, ${snap.transactions.aborted} aborted, ${snap.transactions.unknown} unknown, ${snap.retries.total} retries · polled every ${POLL_MS / 1000} s`,
      );
      if (history.length > 0) fill(grid, ...charts(Date.parse(snap.at)));
    } catch (err) {
      fill(status, h("span", { class: "error" }, describeError(err)));
    }
  };
  void poll();
  const timer = setInterval(() => void poll(), POLL_MS);
  return () => {
    clearInterval(timer);
  };
}
