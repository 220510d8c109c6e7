/** A small SVG line chart over a time window: one line per series, a y axis, a legend. */
import { h, s } from "./dom.js";

export interface Series {
  name: string;
  colour: string;
  points: readonly { atMs: number; value: number | undefined }[];
}

const W = 560;
const H = 200;
const L = 52;
const R = 12;
const T = 10;
const B = 22;

/** A round upper bound for the y axis: 1, 2 or 5 times a power of ten. */
export function niceMax(v: number): number {
  if (!(v > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  return [1, 2, 5, 10].map((m) => m * p).find((m) => m >= v) ?? v;
}

function yLabel(v: number, unit: string): string {
  // At most two decimals, trailing zeros dropped: 0.25/s, 1.5, 2 ms.
  const short = (x: number) => String(Number(x.toFixed(2)));
  if (unit === "s") return v >= 1 ? `${short(v)} s` : `${short(v * 1000)} ms`;
  return `${short(v)}${unit}`;
}

/** The chart, its title and legend, for the window ending at `endMs`. */
export function lineChart(
  title: string,
  unit: string,
  series: readonly Series[],
  endMs: number,
  windowMs: number,
): HTMLElement {
  const startMs = endMs - windowMs;
  const values = series.flatMap((x) => x.points.map((p) => p.value ?? 0));
  const max = niceMax(Math.max(0, ...values));
  const x = (ms: number) => L + ((ms - startMs) / windowMs) * (W - L - R);
  const y = (v: number) => T + (1 - v / max) * (H - T - B);
  const svg = s("svg", {
    viewBox: `0 0 ${W} ${H}`,
    width: "100%",
    role: "img",
    "aria-label": title,
  });
  for (let i = 0; i <= 4; i++) {
    const v = (max * i) / 4;
    svg.append(
      s("line", { class: "grid", x1: L, x2: W - R, y1: y(v), y2: y(v) }),
      s("text", { class: "axis", x: L - 4, y: y(v) + 4, "text-anchor": "end" }, yLabel(v, unit)),
    );
  }
  for (let m = 0; m <= windowMs / 60_000; m++)
    svg.append(
      s(
        "text",
        { class: "axis", x: x(endMs - m * 60_000), y: H - 6, "text-anchor": "middle" },
        m === 0 ? "now" : `-${m} min`,
      ),
    );
  for (const line of series) {
    // A gap (no value) breaks the line rather than drawing it down to zero.
    let d = "";
    let pen = false;
    for (const p of line.points) {
      if (p.atMs < startMs || p.value === undefined) {
        pen = false;
        continue;
      }
      d += `${pen ? "L" : "M"}${x(p.atMs).toFixed(1)},${y(p.value).toFixed(1)} `;
      pen = true;
    }
    if (d !== "")
      svg.append(s("path", { d, fill: "none", stroke: line.colour, "stroke-width": 2 }));
  }
  const legend = h("div", { class: "legend" });
  for (const line of series) {
    const last = [...line.points].reverse().find((p) => p.value !== undefined)?.value;
    const item = h("span", {}, `${line.name}: ${last === undefined ? "—" : yLabel(last, unit)}`);
    item.style.setProperty("--swatch", line.colour);
    legend.append(item);
  }
  return h("div", { class: "chart" }, h("h2", {}, title), svg, legend);
}
