/**
 * The isolation workload (in the spirit of Jepsen's bank test and Elle): concurrent clients run
 * transfers between two banks, reads of every transfer account at both banks (plain, and with
 * `hold`), reads of one account twice, and pairs of concurrent debits of one customer's two
 * linked accounts, all at one isolation level. Each transaction's effects are recorded as the
 * participants reported them (balances and versions), with the accounts before and after: a
 * history the anomaly checker (anomalies.ts) reads, and which documented.ts judges.
 */
import { pickFrom, seededRandom } from "../chaos/prng.js";
import type { ClusterFile } from "../cluster/cluster-file.js";
import { adminSecretOf } from "../cluster/cluster-file.js";
import type { IsolationLevel } from "../../shared/isolation.js";
import { checkHistory, countByKind, type Anomaly, type CheckResult } from "./anomalies.js";
import type { AnomalyKind } from "./anomaly-kinds.js";
import { LABELS, undocumented } from "./documented.js";
import type { History, HistoryTxn } from "./history.js";
import {
  planAccounts,
  openAccounts,
  readAccounts,
  type WorkloadAccounts,
} from "./workload-accounts.js";
import { recordOf, resolveUnknown, type Part, type RunReply } from "./workload-record.js";

export interface WorkloadOptions {
  cluster: ClusterFile;
  level: IsolationLevel;
  seed: number;
  workers: number;
  /** Steps per worker; a step is one request, or a pair of concurrent debits. */
  steps: number;
  /** Names this run's accounts: a fresh prefix gives fresh accounts. */
  prefix: string;
  banks?: [string, string];
}

export interface WorkloadRun {
  level: IsolationLevel;
  history: History;
  result: CheckResult;
  counts: Record<AnomalyKind, number>;
  /** Anomalies docs/isolation.md does not allow at this level: must be none. */
  undocumented: Anomaly[];
  /** Requests by label and outcome. */
  requests: Record<string, Record<string, number>>;
}

export async function runWorkload(o: WorkloadOptions): Promise<WorkloadRun> {
  const banks = o.banks ?? ["bank-a", "bank-b"];
  // Enough customers for every pair a run can ask for (a quarter of the steps, at most).
  const accounts = planAccounts(o.prefix, banks, {
    plainPerBank: 3,
    customers: Math.ceil((o.workers * o.steps) / 3),
    workers: o.workers,
  });
  await openAccounts(o.cluster, accounts);
  const txns: HistoryTxn[] = [];
  const send = sender(o.cluster, o.level);
  let nextCustomer = 0;
  await Promise.all(
    Array.from({ length: o.workers }, async (_, w) => {
      const random = seededRandom(o.seed * 1000 + w);
      for (let i = 0; i < o.steps; i++) {
        const customer = accounts.customers[nextCustomer];
        const step = stepOf(random(), customer !== undefined);
        if (step === "linked-pair") nextCustomer++;
        const parts =
          step === "linked-pair"
            ? linkedPair(accounts, nextCustomer - 1, w)
            : [partsOf(step, accounts, random)];
        const answers = await Promise.all(parts.map((p) => send(p)));
        txns.push(...answers);
      }
    }),
  );
  await resolveUnknown(o.cluster, txns);
  const history: History = {
    initial: accounts.initial,
    final: await readAccounts(o.cluster, accounts),
    txns,
    conservedSets: [
      {
        name: "transfer accounts",
        accounts: accounts.plain,
        total: String(accounts.plainBalance * BigInt(accounts.plain.length)),
      },
    ],
  };
  const result = checkHistory(history);
  const labels = new Map(txns.map((t) => [t.id, t.label]));
  return {
    level: o.level,
    history,
    result,
    counts: countByKind(result.anomalies),
    undocumented: undocumented(o.level, result.anomalies, (id) => labels.get(id)),
    requests: tally(txns),
  };
}

type Step = "transfer" | "read" | "hold-read" | "double-read" | "linked-pair";

function stepOf(x: number, customerLeft: boolean): Step {
  if (x < 0.35) return "transfer";
  if (x < 0.55) return "read";
  if (x < 0.7) return "hold-read";
  if (x < 0.78) return "double-read";
  return customerLeft ? "linked-pair" : "transfer";
}

/** One request: its label, credential and participants (each with its operations). */
export interface Request {
  label: string;
  operator: boolean;
  parts: Part[];
}

function partsOf(
  step: Exclude<Step, "linked-pair">,
  a: WorkloadAccounts,
  random: () => number,
): Request {
  const [bankA, bankB] = a.banks;
  const atA = a.plain.filter((r) => r.participant === bankA);
  const atB = a.plain.filter((r) => r.participant === bankB);
  if (step === "transfer") {
    const [from, to] =
      random() < 0.5
        ? [pickFrom(random, atA), pickFrom(random, atB)]
        : [pickFrom(random, atB), pickFrom(random, atA)];
    const amount = String(1 + Math.floor(random() * 50));
    return {
      label: LABELS.transfer,
      operator: false,
      parts: [
        { name: from.participant, operations: [{ op: "debit", account: from.account, amount }] },
        { name: to.participant, operations: [{ op: "credit", account: to.account, amount }] },
      ],
    };
  }
  if (step === "double-read") {
    const x = pickFrom(random, atA);
    const y = pickFrom(random, atB);
    const read = { op: "read", account: x.account };
    return {
      label: LABELS.doubleRead,
      operator: true,
      parts: [
        { name: bankA, operations: [read, read] },
        { name: bankB, operations: [{ op: "read", account: y.account }] },
      ],
    };
  }
  const hold = step === "hold-read";
  const reads = (refs: typeof atA) =>
    refs.map((r) => ({ op: "read", account: r.account, ...(hold ? { hold } : {}) }));
  return {
    label: hold ? LABELS.holdRead : LABELS.read,
    operator: true,
    parts: [
      { name: bankA, operations: reads(atA) },
      { name: bankB, operations: reads(atB) },
    ],
  };
}

/**
 * Two debits of one customer's checking and savings, sent together: each alone keeps the
 * customer's total >= 0 (100 + 100 - 150), both together take it to -100.
 */
function linkedPair(a: WorkloadAccounts, index: number, worker: number): Request[] {
  const c = a.customers[index];
  const merchants = a.merchants[worker];
  if (!c || !merchants) throw new Error(`no customer ${index} or merchants of worker ${worker}`);
  return [c.checking, c.savings].map((from, i) => {
    const to = merchants[i];
    if (!to) throw new Error(`worker ${worker} has no merchant ${i}`);
    return {
      label: LABELS.linkedDebit,
      operator: false,
      parts: [
        {
          name: from.participant,
          operations: [{ op: "debit", account: from.account, amount: "150" }],
        },
        {
          name: to.participant,
          operations: [{ op: "credit", account: to.account, amount: "150" }],
        },
      ],
    };
  });
}

/** Sends requests at `level` and records each as a history transaction. */
function sender(cluster: ClusterFile, level: IsolationLevel) {
  const url = `${cluster.coordinator.url}/v1/transactions`;
  const operator = adminSecretOf(cluster, "coordinator");
  return async (req: Request): Promise<HistoryTxn> => {
    const startMs = Date.now();
    const res = await fetch(url, {
      method: "POST",
      headers: {
        authorization: `Bearer ${req.operator ? operator : cluster.secrets.apiKey}`,
        "content-type": "application/json",
      },
      body: JSON.stringify({ isolation: level, timeoutMs: 10_000, participants: req.parts }),
    });
    const reply = (await res.json()) as RunReply;
    return {
      ...recordOf(req.label, req.parts, res.status, reply),
      isolation: level,
      startMs,
      endMs: Date.now(),
    };
  };
}

function tally(txns: readonly HistoryTxn[]): Record<string, Record<string, number>> {
  const out: Record<string, Record<string, number>> = {};
  for (const t of txns) {
    const byOutcome = (out[t.label] ??= {});
    byOutcome[t.outcome] = (byOutcome[t.outcome] ?? 0) + 1;
  }
  return out;
}
