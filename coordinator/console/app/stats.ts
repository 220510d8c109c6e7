/**
 * Rates and latency quantiles from two snapshots of `GET /v1/operator/stats`. The counters only
 * grow while the coordinator runs, so a rate is a difference over the time between snapshots;
 * a quantile comes from the difference of the cumulative latency buckets, so it describes the
 * transactions that ended between the two, not everything since the start. Pure functions: the
 * unit test runs them in Node.
 */

/** What of a stats answer these functions read (coordinator/operator-routes.ts statsAnswerSchema). */
export interface StatsSnapshot {
  at: string;
  uptimeSeconds: number;
  transactions: { committed: number; aborted: number; unknown: number };
  abortsByReason: Record<string, number>;
  retries: { total: number };
  inFlight: number;
  inDoubt: { undecided: number; unacked: number };
  latency: Record<string, { count: number; sum: number; buckets: { le: string; count: number }[] }>;
}

export interface Point {
  atMs: number;
  committedPerSec: number;
  abortedPerSec: number;
  retriesPerSec: number;
  abortsPerSecByReason: Record<string, number>;
  /** Seconds, per phase; undefined when no transaction ended in the interval. */
  p50: Record<string, number | undefined>;
  p99: Record<string, number | undefined>;
  inFlight: number;
  undecided: number;
  unacked: number;
}

/**
 * The `q` quantile (0..1) of the observations between two cumulative bucket lists, interpolated
 * linearly inside the bucket it falls in (as Prometheus's histogram_quantile does). Undefined
 * when nothing was observed; the last finite bound when it falls in the +Inf bucket.
 */
export function quantile(
  q: number,
  before: readonly { le: string; count: number }[],
  after: readonly { le: string; count: number }[],
): number | undefined {
  const earlier = new Map(before.map((b) => [b.le, b.count]));
  const deltas = after
    .map((b) => ({
      le: b.le === "+Inf" ? Infinity : Number(b.le),
      n: b.count - (earlier.get(b.le) ?? 0),
    }))
    .sort((a, b) => a.le - b.le);
  const total = deltas[deltas.length - 1]?.n ?? 0;
  if (total <= 0) return undefined;
  const rank = q * total;
  let lower = 0;
  let below = 0;
  for (const { le, n } of deltas) {
    if (n >= rank) {
      if (le === Infinity) return lower;
      const inBucket = n - below;
      return inBucket <= 0 ? le : lower + ((le - lower) * (rank - below)) / inBucket;
    }
    if (le !== Infinity) lower = le;
    below = n;
  }
  return lower;
}

/** The point between two snapshots, or undefined when the coordinator restarted in between. */
export function pointBetween(a: StatsSnapshot, b: StatsSnapshot): Point | undefined {
  const dt = (Date.parse(b.at) - Date.parse(a.at)) / 1000;
  if (!(dt > 0) || b.uptimeSeconds < a.uptimeSeconds) return undefined;
  const rate = (x: number, y: number) => Math.max(0, y - x) / dt;
  const byReason: Record<string, number> = {};
  for (const [reason, n] of Object.entries(b.abortsByReason))
    byReason[reason] = rate(a.abortsByReason[reason] ?? 0, n);
  const p50: Record<string, number | undefined> = {};
  const p99: Record<string, number | undefined> = {};
  for (const [phase, h] of Object.entries(b.latency)) {
    const before = a.latency[phase]?.buckets ?? [];
    p50[phase] = quantile(0.5, before, h.buckets);
    p99[phase] = quantile(0.99, before, h.buckets);
  }
  return {
    atMs: Date.parse(b.at),
    committedPerSec: rate(a.transactions.committed, b.transactions.committed),
    abortedPerSec: rate(a.transactions.aborted, b.transactions.aborted),
    retriesPerSec: rate(a.retries.total, b.retries.total),
    abortsPerSecByReason: byReason,
    p50,
    p99,
    inFlight: b.inFlight,
    undecided: b.inDoubt.undecided,
    unacked: b.inDoubt.unacked,
  };
}
