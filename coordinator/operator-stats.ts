/**
 * The snapshot behind GET /v1/operator/stats: the coordinator's counters (coordinator-metrics.ts),
 * read through prom-client's `get()`, so the snapshot shows whatever the instrumentation
 * counts, plus the log's unfinished transactions read at the time. Counters only grow while
 * the process runs: a client takes rates from two snapshots, and a smaller `uptimeSeconds`
 * than before says the coordinator restarted (start the rates afresh).
 */
import type { DurableLog } from "../shared/durable-log.js";
import { LATENCY_BUCKETS } from "../shared/metrics.js";
import type { CoordinatorMetrics, Phase } from "./coordinator-metrics.js";
import type { StatsAnswer } from "./operator-routes.js";
import { withRedis } from "./redis-errors.js";

/** What prom-client's `get()` gives for any metric kind. */
interface MetricValue {
  value: number;
  labels: Record<string, string | number | undefined>;
  metricName?: string;
}
interface Readable {
  get(): Promise<{ values: MetricValue[] }>;
}

const PHASES: readonly Phase[] = ["prepare", "decide", "phase2", "end_to_end"];
type Outcome = "committed" | "aborted" | "unknown";

async function valuesOf(metric: Readable | undefined): Promise<MetricValue[]> {
  return metric ? (await metric.get()).values : [];
}

const label = (v: MetricValue, name: string) => String(v.labels[name] ?? "");

/** Sums of the values by one label's value. */
function sumBy(values: MetricValue[], name: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const v of values) out[label(v, name)] = (out[label(v, name)] ?? 0) + v.value;
  return out;
}

function byOutcome(values: MetricValue[]): Record<Outcome, number> {
  const sums = sumBy(values, "outcome");
  return { committed: sums.committed ?? 0, aborted: sums.aborted ?? 0, unknown: sums.unknown ?? 0 };
}

function latency(values: MetricValue[]): StatsAnswer["latency"] {
  const out: StatsAnswer["latency"] = {};
  for (const phase of PHASES) {
    const mine = values.filter((v) => label(v, "phase") === phase);
    const named = (suffix: string) => mine.filter((v) => v.metricName?.endsWith(suffix));
    const buckets = named("_bucket").map((v) => ({ le: label(v, "le"), count: v.value }));
    out[phase] = {
      count: named("_count")[0]?.value ?? 0,
      sum: named("_sum")[0]?.value ?? 0,
      // A phase nothing was measured in yet has every bucket at zero: the same shape always.
      buckets:
        buckets.length > 0
          ? buckets
          : [...LATENCY_BUCKETS.map(String), "+Inf"].map((le) => ({ le, count: 0 })),
    };
  }
  return out;
}

export async function statsSnapshot(
  log: DurableLog,
  metrics: CoordinatorMetrics | undefined,
): Promise<StatsAnswer> {
  const [transactions, attempts, retries, inFlight, actions, phases] = await Promise.all([
    valuesOf(metrics?.transactions),
    valuesOf(metrics?.attempts),
    valuesOf(metrics?.retries),
    valuesOf(metrics?.inFlight),
    valuesOf(metrics?.recoveryActions),
    valuesOf(metrics?.phaseDuration),
  ]);
  const inDoubt = await withRedis(() => log.activeCounts());
  const retriesByReason = sumBy(retries, "reason");
  return {
    at: new Date().toISOString(),
    uptimeSeconds: Math.round(process.uptime() * 1000) / 1000,
    transactions: {
      ...byOutcome(transactions),
      byReason: transactions.map((v) => ({
        labels: { outcome: label(v, "outcome"), reason: label(v, "reason") },
        count: v.value,
      })),
    },
    attempts: byOutcome(attempts),
    abortsByReason: sumBy(
      transactions.filter((v) => label(v, "outcome") === "aborted"),
      "reason",
    ),
    retries: {
      total: Object.values(retriesByReason).reduce((a, b) => a + b, 0),
      byReason: retriesByReason,
    },
    inFlight: inFlight.reduce((a, v) => a + v.value, 0),
    inDoubt,
    recoveryActions: sumBy(actions, "action"),
    latency: latency(phases),
  };
}
