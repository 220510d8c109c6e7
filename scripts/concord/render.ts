/** The operator CLI's human output for each answer (`--json` prints the answer itself instead). */
import type {
  ActionAnswer,
  InDoubtAnswer,
  StatsAnswer,
} from "../../coordinator/operator-routes.js";
import { cell, duration, table } from "./table.js";

interface Summary {
  txid: string;
  state: string;
  decision: string | null;
  reason: string | null;
  participants: string[];
  createdAt?: string;
}

interface Detail extends Omit<Summary, "participants"> {
  participants: { name: string; vote: string | null; acknowledgedAt: string | null }[];
  deadlineAt?: string;
  decidedBy?: string;
  decidedAt?: string;
  endedAt?: string;
  attempt?: number;
  previousAttempt?: string | null;
  nextAttempt?: string | null;
  events?: { type: string; at?: string; data?: unknown }[];
}

export function renderList(answer: unknown): string {
  const { transactions = [], nextCursor } = answer as {
    transactions?: Summary[];
    nextCursor?: string | null;
  };
  if (transactions.length === 0) return "no transactions";
  const rows = transactions.map((t) => [
    t.txid,
    t.state,
    cell(t.decision),
    cell(t.reason),
    t.participants.join(","),
    cell(t.createdAt),
  ]);
  const more = nextCursor ? `\nmore: --cursor ${nextCursor}` : "";
  return `${table(["TXID", "STATE", "DECISION", "REASON", "PARTICIPANTS", "CREATED"], rows)}${more}`;
}

export function renderDetail(answer: unknown): string {
  const d = answer as Detail;
  const fields: [string, unknown][] = [
    ["txid", d.txid],
    ["state", d.state],
    ["decision", d.decision],
    ["reason", d.reason],
    ["decided by", d.decidedBy],
    ["created", d.createdAt],
    ["deadline", d.deadlineAt],
    ["decided", d.decidedAt],
    ["ended", d.endedAt],
    ["attempt", d.attempt],
    ["previous attempt", d.previousAttempt],
    ["next attempt", d.nextAttempt],
  ];
  const head = fields.map(([k, v]) => `${`${k}:`.padEnd(18)}${cell(v)}`).join("\n");
  const parts = table(
    ["PARTICIPANT", "VOTE", "ACKNOWLEDGED"],
    d.participants.map((p) => [p.name, cell(p.vote), cell(p.acknowledgedAt)]),
  );
  const events = table(
    ["EVENT", "AT", "DATA"],
    (d.events ?? []).map((e) => [e.type, cell(e.at), cell(e.data)]),
  );
  return `${head}\n\n${parts}\n\n${events}`;
}

export function renderInDoubt(a: InDoubtAnswer): string {
  const out: string[] = [];
  const rows = a.participants.flatMap((p) =>
    p.reachable
      ? p.prepared.map((e) => [
          p.name,
          e.txid,
          duration(e.ageMs),
          cell(e.journal.vote),
          cell(e.journal.decision),
          e.log,
          cell(e.decidedBy),
          cell(e.deadlineAt),
        ])
      : [],
  );
  out.push(
    rows.length === 0
      ? "nothing is prepared at any reachable participant"
      : table(
          [
            "PARTICIPANT",
            "TXID",
            "PREPARED FOR",
            "VOTE",
            "JOURNAL",
            "LOG",
            "DECIDED BY",
            "DEADLINE",
          ],
          rows,
        ),
  );
  for (const p of a.participants)
    if (!p.reachable) out.push(`UNREACHABLE ${p.name}: ${p.error}`);
    else if (p.truncated) out.push(`${p.name}: more are prepared than listed`);
  const { undecided, unacked } = a.counts;
  out.push(`\nthe log: ${undecided} undecided, ${unacked} decided but not acknowledged by all`);
  if (a.unfinished.transactions.length > 0)
    out.push(
      table(
        ["TXID", "STATE", "DECISION", "DECIDED BY", "AGE", "NOT ACKNOWLEDGED"],
        a.unfinished.transactions.map((t) => [
          t.txid,
          t.state,
          cell(t.decision),
          cell(t.decidedBy),
          duration(t.ageMs),
          t.participants
            .filter((p) => p.acknowledgedAt === null)
            .map((p) => p.name)
            .join(",") || "-",
        ]),
      ),
    );
  return out.join("\n");
}

export function renderAction(a: ActionAnswer): string {
  const rows = a.participants.map((p) => [p.name, p.result, cell(p.error)]);
  return `${a.txid}: ${a.message}\n\n${table(["PARTICIPANT", "RESULT", "ERROR"], rows)}`;
}

export function renderStats(s: StatsAnswer): string {
  const t = s.transactions;
  const kv = (o: Record<string, number>) =>
    Object.entries(o)
      .map(([k, v]) => `${k || "-"}=${v}`)
      .join(" ") || "-";
  const lines = [
    `at ${s.at} (coordinator up ${duration(s.uptimeSeconds * 1000)})`,
    `transactions:     committed=${t.committed} aborted=${t.aborted} unknown=${t.unknown}`,
    `attempts:         committed=${s.attempts.committed} aborted=${s.attempts.aborted} unknown=${s.attempts.unknown}`,
    `aborts by reason: ${kv(s.abortsByReason)}`,
    `retries:          ${s.retries.total} (${kv(s.retries.byReason)})`,
    `in flight:        ${s.inFlight}`,
    `in doubt:         undecided=${s.inDoubt.undecided} unacked=${s.inDoubt.unacked}`,
    `recovery actions: ${kv(s.recoveryActions)}`,
    "",
  ];
  const rows = Object.entries(s.latency).map(([phase, h]) => [
    phase,
    String(h.count),
    h.count > 0 ? duration((h.sum / h.count) * 1000) : "-",
  ]);
  return `${lines.join("\n")}${table(["PHASE", "COUNT", "MEAN"], rows)}`;
}
