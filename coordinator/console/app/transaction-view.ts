/** One transaction: its record, its participants' votes and acknowledgements, its timeline and events. */
import { api, arr, describeError, num, obj, str } from "./api.js";
import { badge, fill, h, table, timeCell } from "./dom.js";
import { offsetText, timelineSvg, type TimelineMark } from "./timeline.js";

interface Detail {
  raw: Record<string, unknown>;
  participants: { name: string; vote: string | null; acknowledgedAt: string | undefined }[];
  events: { type: string; at: string | undefined; data: Record<string, unknown> }[];
}

function detailOf(v: unknown): Detail {
  const raw = obj(v);
  return {
    raw,
    participants: arr(raw.participants).map((p) => {
      const o = obj(p);
      return {
        name: str(o.name) ?? "?",
        vote: str(o.vote) ?? null,
        acknowledgedAt: str(o.acknowledgedAt),
      };
    }),
    events: arr(raw.events).map((e) => {
      const o = obj(e);
      return { type: str(o.type) ?? "?", at: str(o.at), data: obj(o.data) };
    }),
  };
}

/** The marks of the timeline: the coordinator's events, then each participant's vote and ack. */
export function marksOf(d: Detail): TimelineMark[] {
  const marks: TimelineMark[] = [];
  const at = (iso: string | undefined) => (iso === undefined ? NaN : Date.parse(iso));
  const voted = new Set<string>();
  for (const e of d.events) {
    const who = str(e.data.participant);
    const what = str(e.data.vote) ?? str(e.data.decision) ?? str(e.data.state) ?? "";
    if (e.type === "vote" && who !== undefined) voted.add(who);
    marks.push({
      lane: who ?? "coordinator",
      atMs: at(e.at),
      label: what === "" ? e.type : `${e.type} ${what}`,
      tone: what,
    });
  }
  const decidedAt = at(str(d.raw.decidedAt));
  for (const p of d.participants) {
    if (p.vote !== null && !voted.has(p.name) && !Number.isNaN(decidedAt))
      marks.push({
        lane: p.name,
        atMs: decidedAt,
        label: `voted ${p.vote} (by decision)`,
        tone: p.vote,
      });
    if (
      p.acknowledgedAt !== undefined &&
      !d.events.some((e) => e.type === "ack" && e.data.participant === p.name)
    )
      marks.push({ lane: p.name, atMs: at(p.acknowledgedAt), label: "ack", tone: "ack" });
  }
  return marks.filter((m) => !Number.isNaN(m.atMs));
}

function facts(d: Detail): HTMLElement {
  const r = d.raw;
  const link = (txid: unknown) =>
    typeof txid === "string"
      ? h("a", { class: "mono", href: `#/tx/${encodeURIComponent(txid)}` }, txid)
      : h("span", { class: "muted" }, "—");
  const rows: [string, Node | string][] = [
    ["state", badge(str(r.state))],
    ["decision", badge(str(r.decision))],
    ["reason", str(r.reason) ?? "—"],
    ["decided by", str(r.decidedBy) ?? "—"],
    ["created", timeCell(str(r.createdAt))],
    ["deadline", timeCell(str(r.deadlineAt))],
    ["decided", timeCell(str(r.decidedAt))],
    ["ended", timeCell(str(r.endedAt))],
    ["timeout", `${num(r.timeoutMs) ?? "?"} ms`],
    ["attempt", `${num(r.attempt) ?? "?"} (series ${str(r.series) ?? "?"})`],
    ["previous attempt", link(r.previousAttempt)],
    ["next attempt", link(r.nextAttempt)],
  ];
  return h("dl", { class: "facts" }, ...rows.flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]));
}

function eventsTable(d: Detail, startMs: number): HTMLTableElement {
  return table(
    ["time", "since begin", "event", "data"],
    d.events.map((e) => [
      timeCell(e.at),
      h(
        "span",
        { class: "mono" },
        e.at === undefined ? "" : offsetText(Date.parse(e.at) - startMs),
      ),
      badge(e.type),
      h("span", { class: "mono" }, JSON.stringify(e.data)),
    ]),
  );
}

export function renderTransaction(view: HTMLElement, txid: string): () => void {
  fill(
    view,
    h("h1", {}, "Transaction ", h("span", { class: "mono" }, txid)),
    h("p", {}, "loading…"),
  );
  void (async () => {
    try {
      const d = detailOf(await api("GET", `/v1/transactions/${encodeURIComponent(txid)}`));
      const startMs = Date.parse(str(d.raw.createdAt) ?? d.events[0]?.at ?? "");
      const lanes = ["coordinator", ...d.participants.map((p) => p.name)];
      fill(
        view,
        h("h1", {}, "Transaction ", h("span", { class: "mono", id: "tx-id" }, txid)),
        facts(d),
        h("h2", {}, "Timeline"),
        h("div", { id: "timeline" }, timelineSvg(lanes, marksOf(d), startMs)),
        h("h2", {}, "Participants"),
        table(
          ["participant", "vote", "acknowledged"],
          d.participants.map((p) => [
            h("span", {}, p.name),
            badge(p.vote),
            timeCell(p.acknowledgedAt),
          ]),
        ),
        h("h2", {}, "Events in the log"),
        eventsTable(d, startMs),
      );
    } catch (err) {
      fill(
        view,
        h("h1", {}, "Transaction ", h("span", { class: "mono" }, txid)),
        h("p", { class: "error" }, describeError(err)),
      );
    }
  })();
  return () => undefined;
}
