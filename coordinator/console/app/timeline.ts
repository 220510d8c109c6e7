/**
 * A transaction's timeline as SVG: one lane for the coordinator and one per participant, each
 * event placed by its time and labelled. The log records begin, decision and end (and votes
 * and acknowledgements when it writes them as events); a participant's acknowledgement time
 * comes from the record. A vote with no event of its own is drawn at the decision, the moment
 * the coordinator held every vote, and its label says so.
 */
import { s } from "./dom.js";

export interface TimelineMark {
  lane: string;
  atMs: number;
  label: string;
  /** For the colour: commit, abort, yes, no, or anything else (neutral). */
  tone: string;
}

const COLOURS: Record<string, string> = {
  commit: "#1a7f37",
  committed: "#1a7f37",
  yes: "#1a7f37",
  abort: "#cf222e",
  aborted: "#cf222e",
  no: "#cf222e",
  "read-only": "#0969da",
};

const LEFT = 130;
const RIGHT = 100;
const LANE = 54;
const TOP = 28;

/** "+12 ms", "+1.25 s": an offset from the transaction's start. */
export function offsetText(ms: number): string {
  return ms < 1000 ? `+${Math.round(ms)} ms` : `+${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
}

function axis(svg: SVGSVGElement, x: (ms: number) => number, spanMs: number, height: number) {
  const ticks = 6;
  for (let i = 0; i <= ticks; i++) {
    const ms = (spanMs * i) / ticks;
    svg.append(
      s("line", { class: "grid", x1: x(ms), x2: x(ms), y1: TOP - 6, y2: height - 18 }),
      s(
        "text",
        { class: "axis", x: x(ms), y: height - 4, "text-anchor": "middle" },
        offsetText(ms),
      ),
    );
  }
}

/** The SVG for `marks` over lanes in the given order, from `startMs`. */
export function timelineSvg(
  lanes: readonly string[],
  marks: readonly TimelineMark[],
  startMs: number,
) {
  const spanMs = Math.max(1, ...marks.map((m) => m.atMs - startMs));
  const width = 960;
  const height = TOP + lanes.length * LANE + 24;
  const x = (ms: number) => LEFT + (ms / spanMs) * (width - LEFT - RIGHT);
  const svg = s("svg", {
    class: "timeline",
    viewBox: `0 0 ${width} ${height}`,
    width,
    height,
    role: "img",
    "aria-label": "transaction timeline",
  });
  axis(svg, x, spanMs, height);
  lanes.forEach((lane, i) => {
    const y = TOP + i * LANE + LANE / 2;
    svg.append(
      s("line", { class: "lane", x1: LEFT, x2: width - RIGHT, y1: y, y2: y }),
      s("text", { x: 8, y: y + 4, "font-weight": i === 0 ? 600 : 400 }, lane),
    );
  });
  // Labels alternate above and below their lane, so marks close in time do not overwrite.
  const placed = new Map<string, number>();
  for (const m of [...marks].sort((a, b) => a.atMs - b.atMs)) {
    const i = Math.max(0, lanes.indexOf(m.lane));
    const n = placed.get(m.lane) ?? 0;
    placed.set(m.lane, n + 1);
    const y = TOP + i * LANE + LANE / 2;
    const colour = COLOURS[m.tone] ?? "#57606a";
    const cx = x(m.atMs - startMs);
    svg.append(
      s("circle", { cx, cy: y, r: 6, fill: colour, stroke: "#fff", "stroke-width": 1.5 }),
      s(
        "text",
        { x: cx, y: n % 2 === 0 ? y - 10 : y + 19, "text-anchor": "middle", fill: colour },
        m.label,
      ),
    );
  }
  return svg;
}
