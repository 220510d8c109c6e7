/**
 * Contention: transfers that fight over the same rows, through the whole system.
 *
 * - hot pair: every worker moves 1 unit between one account at bank-a and one at bank-b, in
 *   both directions at random. The rows serialize the transfers whatever the protocol does;
 *   what the protocol decides is whether they wait their turn or abort one another.
 * - zipf: 100 accounts per bank, chosen with a Zipf distribution (s = 1): a few hot accounts
 *   and a long tail, as in real payment traffic (a merchant, a fee account).
 *
 * Each cell records, per transfer the client sent, the final outcome, the final reason, the
 * number of attempts the coordinator made (the answer's `attempts`, or 1) and the latency.
 */
import {
  CoordinatorRequestError,
  CoordinatorUnavailableError,
  type ParticipantOperations,
  type RunResult,
} from "../../shared/client/index.js";
import { monotonicMs } from "../../shared/clock.js";
import type { IsolationLevel } from "../../shared/isolation.js";
import type { KeepAliveJson } from "./http-json.js";
import { summarize, type LatencySummaryMs } from "./stats.js";

export type ContentionLoad = "hot-pair" | "zipf";

export interface ContentionResult {
  load: ContentionLoad;
  /** The level every transfer ran at (docs/isolation.md). */
  isolation: IsolationLevel;
  concurrency: number;
  seconds: number;
  sent: number;
  committed: number;
  committedPerSecond: number;
  /** Share of the transfers sent that finally committed. */
  committedShare: number;
  /** Final aborts by reason. */
  aborts: Record<string, number>;
  /** Attempts the coordinator made per committed transfer (1 = no retry). */
  attemptsPerCommit: number;
  latencyMs: LatencySummaryMs;
}

export const ZIPF_ACCOUNTS = 100;
export const HOT_ACCOUNT = "hot-0";
export const zipfAccount = (i: number) => `zipf-${i}`;

/** Inverse-CDF sampling of a Zipf(s = 1) rank in [0, n): rank k has weight 1 / (k + 1). */
export function zipfSampler(n: number, random: () => number = Math.random): () => number {
  const cumulative: number[] = [];
  let total = 0;
  for (let k = 0; k < n; k++) {
    total += 1 / (k + 1);
    cumulative.push(total);
  }
  return () => {
    const x = random() * total;
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((cumulative[mid] as number) < x) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
}

interface Outcome {
  committed: boolean;
  reason: string;
  attempts: number;
  latencyMs: number;
}

/** The participants of one transfer of 1 unit from (bankFrom, from) to (bankTo, to). */
function transferOf(
  from: { bank: string; account: string },
  to: { bank: string; account: string },
): ParticipantOperations[] {
  return [
    { name: from.bank, operations: [{ op: "debit", account: from.account, amount: "1" }] },
    { name: to.bank, operations: [{ op: "credit", account: to.account, amount: "1" }] },
  ];
}

/** The pair of accounts one transfer of a load uses. */
function pick(
  load: ContentionLoad,
  banks: readonly [string, string],
  zipf: () => number,
): { from: { bank: string; account: string }; to: { bank: string; account: string } } {
  const forward = Math.random() < 0.5;
  const [a, b] = forward ? banks : [banks[1], banks[0]];
  if (load === "hot-pair")
    return { from: { bank: a, account: HOT_ACCOUNT }, to: { bank: b, account: HOT_ACCOUNT } };
  return {
    from: { bank: a, account: zipfAccount(zipf()) },
    to: { bank: b, account: zipfAccount(zipf()) },
  };
}

/** What one transfer the client sent ended as: its final outcome, reason and attempts. */
function outcomeOf(r: RunResult): Omit<Outcome, "latencyMs"> {
  const voted = r.participants.find((p) => p.reason !== undefined)?.reason;
  return {
    committed: r.outcome === "committed",
    reason: voted ?? (r.outcome === "unknown" ? "outcome-unknown" : r.outcome),
    attempts: Math.max(1, r.attempts.length),
  };
}

function outcomeOfError(err: unknown): Omit<Outcome, "latencyMs"> {
  if (err instanceof CoordinatorRequestError)
    return {
      committed: false,
      reason: err.answer?.participants.find((p) => p.reason !== undefined)?.reason ?? err.code,
      attempts: Math.max(1, err.answer?.attempts.length ?? 1),
    };
  if (err instanceof CoordinatorUnavailableError && err.lastStatus !== undefined)
    return { committed: false, reason: "unavailable", attempts: 1 };
  const message = err instanceof Error ? err.message : String(err);
  return { committed: false, reason: `no answer: ${message.slice(0, 60)}`, attempts: 1 };
}

export async function runContentionCell(p: {
  http: KeepAliveJson;
  coordinatorUrl: string;
  apiKey: string;
  banks: readonly [string, string];
  load: ContentionLoad;
  isolation: IsolationLevel;
  concurrency: number;
  durationMs: number;
  maxTransfers: number;
}): Promise<ContentionResult> {
  const client = p.http.coordinator(p.coordinatorUrl, p.apiKey);
  const zipf = zipfSampler(ZIPF_ACCOUNTS);
  const outcomes: Outcome[] = [];
  const t0 = monotonicMs();
  const until = t0 + p.durationMs;
  let started = 0;
  const worker = async () => {
    while (monotonicMs() < until && started < p.maxTransfers) {
      started++;
      const { from, to } = pick(p.load, p.banks, zipf);
      const s = monotonicMs();
      const ended = await client
        .run({ participants: transferOf(from, to), idempotent: false, isolation: p.isolation })
        .then(outcomeOf, outcomeOfError);
      outcomes.push({ ...ended, latencyMs: monotonicMs() - s });
    }
  };
  await Promise.all(Array.from({ length: p.concurrency }, () => worker()));
  const seconds = (monotonicMs() - t0) / 1000;
  const committed = outcomes.filter((o) => o.committed);
  const aborts: Record<string, number> = {};
  for (const o of outcomes) if (!o.committed) aborts[o.reason] = (aborts[o.reason] ?? 0) + 1;
  const round = (x: number, d = 2) => Math.round(x * 10 ** d) / 10 ** d;
  return {
    load: p.load,
    isolation: p.isolation,
    concurrency: p.concurrency,
    seconds: round(seconds, 3),
    sent: outcomes.length,
    committed: committed.length,
    committedPerSecond: round(committed.length / seconds, 1),
    committedShare: outcomes.length === 0 ? 0 : round(committed.length / outcomes.length, 4),
    aborts,
    attemptsPerCommit:
      committed.length === 0
        ? 0
        : round(committed.reduce((s, o) => s + o.attempts, 0) / committed.length),
    latencyMs: summarize(committed.map((o) => o.latencyMs)),
  };
}

/** The contention section of the report, as Markdown. */
export function contentionMarkdown(results: readonly ContentionResult[]): string {
  const lines = [
    "## Contention: transfers over the same rows",
    "",
    "hot pair: every worker moves 1 unit between one account at bank-a and one at bank-b, both directions at random. zipf: 100 accounts per bank, picked with Zipf (s = 1). Through the coordinator's API, as a client; latency is of committed transfers, from the client's first send to its answer (every attempt included).",
    "",
    "| load | isolation | concurrency | sent | committed | committed tx/s | committed share | attempts per commit | p50 ms | p99 ms | aborts by reason |",
    "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
  ];
  for (const r of results) {
    const aborts =
      Object.entries(r.aborts)
        .sort((a, b) => b[1] - a[1])
        .map(([k, v]) => `${k} ${v}`)
        .join(", ") || "none";
    lines.push(
      `| ${r.load} | ${r.isolation} | ${r.concurrency} | ${r.sent} | ${r.committed} | ${r.committedPerSecond} | ${(r.committedShare * 100).toFixed(1)} % | ${r.attemptsPerCommit} | ${r.latencyMs.p50} | ${r.latencyMs.p99} | ${aborts} |`,
    );
  }
  const rc = (r: ContentionResult) => r.isolation === "read-committed";
  const hot1 = results.find((r) => r.load === "hot-pair" && r.concurrency === 1 && rc(r));
  const hot8 = results.find((r) => r.load === "hot-pair" && r.concurrency === 8 && rc(r));
  if (hot1 && hot8 && hot1.committedPerSecond > 0) {
    lines.push(
      "",
      `Hot pair, concurrency 8 against 1: ${(hot8.committedPerSecond / hot1.committedPerSecond).toFixed(2)}× the committed throughput, ${(hot8.committedShare * 100).toFixed(1)} % finally committed.`,
    );
  }
  return `${lines.join("\n")}\n`;
}
