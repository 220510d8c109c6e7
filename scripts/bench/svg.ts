/** A hand-written SVG chart: throughput and p99 latency against concurrency, one line per row. */
import type { CellResult } from "./cell.js";
import type { BenchReport } from "./report.js";

const COLORS = [
  "#1f77b4",
  "#d62728",
  "#2ca02c",
  "#9467bd",
  "#ff7f0e",
  "#8c564b",
  "#e377c2",
  "#17becf",
];
const W = 420;
const H = 260;
const PAD = { left: 60, right: 12, top: 30, bottom: 40 };

interface Series {
  label: string;
  points: { concurrency: number; value: number }[];
}

const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

function seriesOf(cells: readonly CellResult[], value: (c: CellResult) => number): Series[] {
  const keys = [...new Set(cells.map((c) => `${c.row} k=${c.participants}`))];
  return keys.map((label) => ({
    label,
    points: cells
      .filter((c) => `${c.row} k=${c.participants}` === label && Number.isFinite(value(c)))
      .map((c) => ({ concurrency: c.concurrency, value: value(c) })),
  }));
}

/** One panel; x is the concurrencies evenly spaced, y is linear from 0. */
function panel(
  title: string,
  unit: string,
  series: Series[],
  concurrencies: number[],
  offsetX: number,
): string {
  const maxY = Math.max(1, ...series.flatMap((s) => s.points.map((p) => p.value))) * 1.1;
  const plotW = W - PAD.left - PAD.right;
  const plotH = H - PAD.top - PAD.bottom;
  const x = (c: number) =>
    offsetX +
    PAD.left +
    (concurrencies.length === 1
      ? plotW / 2
      : (concurrencies.indexOf(c) / (concurrencies.length - 1)) * plotW);
  const y = (v: number) => PAD.top + plotH - (v / maxY) * plotH;
  const parts = [
    `<text x="${offsetX + W / 2}" y="18" text-anchor="middle" font-weight="bold">${esc(title)}</text>`,
  ];
  parts.push(
    `<line x1="${offsetX + PAD.left}" y1="${PAD.top + plotH}" x2="${offsetX + W - PAD.right}" y2="${PAD.top + plotH}" stroke="#333"/>`,
  );
  parts.push(
    `<line x1="${offsetX + PAD.left}" y1="${PAD.top}" x2="${offsetX + PAD.left}" y2="${PAD.top + plotH}" stroke="#333"/>`,
  );
  for (let i = 0; i <= 4; i++) {
    const v = (maxY * i) / 4;
    parts.push(
      `<text x="${offsetX + PAD.left - 6}" y="${y(v) + 4}" text-anchor="end">${v >= 100 ? v.toFixed(0) : v.toFixed(1)}</text>`,
    );
    parts.push(
      `<line x1="${offsetX + PAD.left}" y1="${y(v)}" x2="${offsetX + W - PAD.right}" y2="${y(v)}" stroke="#ddd"/>`,
    );
  }
  for (const c of concurrencies)
    parts.push(`<text x="${x(c)}" y="${PAD.top + plotH + 16}" text-anchor="middle">${c}</text>`);
  parts.push(
    `<text x="${offsetX + PAD.left + plotW / 2}" y="${H - 6}" text-anchor="middle">concurrency (${esc(unit)})</text>`,
  );
  series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length] as string;
    const pts = s.points.map((p) => `${x(p.concurrency).toFixed(1)},${y(p.value).toFixed(1)}`);
    if (pts.length > 1)
      parts.push(
        `<polyline fill="none" stroke="${color}" stroke-width="2" points="${pts.join(" ")}"/>`,
      );
    for (const p of s.points)
      parts.push(
        `<circle cx="${x(p.concurrency).toFixed(1)}" cy="${y(p.value).toFixed(1)}" r="3" fill="${color}"/>`,
      );
  });
  return parts.join("\n");
}

export function benchSvg(r: BenchReport): string {
  const concurrencies = [...new Set(r.cells.map((c) => c.concurrency))].sort((a, b) => a - b);
  const tps = seriesOf(r.cells, (c) => c.tps);
  const p99 = seriesOf(r.cells, (c) => c.latencyMs.p99);
  const legendY = H + 10;
  const legend = tps.map((s, i) => {
    const col = i % 4;
    const line = Math.floor(i / 4);
    const lx = 20 + col * 200;
    const ly = legendY + line * 18;
    return `<rect x="${lx}" y="${ly}" width="12" height="12" fill="${COLORS[i % COLORS.length]}"/><text x="${lx + 18}" y="${ly + 10}">${esc(s.label)}</text>`;
  });
  const height = legendY + Math.ceil(tps.length / 4) * 18 + 10;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${2 * W}" height="${height}" font-family="sans-serif" font-size="11">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    panel("Throughput (tx/s)", "workers", tps, concurrencies, 0),
    panel("Latency p99 (ms)", "workers", p99, concurrencies, W),
    ...legend,
    "</svg>",
    "",
  ].join("\n");
}
