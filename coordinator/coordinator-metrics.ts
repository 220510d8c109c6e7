/**
 * The coordinator's metrics: what operators and payment teams watch (outcomes and reasons, retries,
 * lock conflicts and deadlocks, latency per phase, what is in flight and in doubt, recovery's
 * work). The console's live charts and `npm run concord -- stats` read the same objects.
 */
import { Counter, Gauge, Histogram } from "prom-client";
import { createServiceMetrics, LATENCY_BUCKETS, type ServiceMetrics } from "../shared/metrics.js";

export type Phase = "prepare" | "decide" | "phase2" | "end_to_end";

export interface CoordinatorMetrics extends ServiceMetrics {
  /** Every attempt's end (one txid): outcome `committed`/`aborted`/`unknown`, and its reason. */
  attempts: Counter<"outcome" | "reason">;
  /** Every client request's end, over all its attempts: what the client was told. */
  transactions: Counter<"outcome" | "reason">;
  /** Attempts begun again after a transient refusal, by the refusal's reason. */
  retries: Counter<"reason">;
  /** Seconds per phase of one attempt; `end_to_end` is the client's request, every attempt. */
  phaseDuration: Histogram<"phase">;
  /** Client requests being run now. */
  inFlight: Gauge;
  /** Transactions the log holds as not finished: `undecided` or `unacked` (set when scraped). */
  inDoubt: Gauge<"index">;
  /** What recovery did: `commit`, `abort` (phase 2 resent), `presumed-abort`, `operator-abort`, `operator-retry`. */
  recoveryActions: Counter<"action">;
  /** A participant's NO because an older transaction held a row (`conflict`) or a lock wait timed out. */
  lockConflicts: Counter<"participant" | "reason">;
  /** A participant's NO because PostgreSQL found a deadlock (40P01). */
  deadlocks: Counter<"participant">;
  /** A participant's NO because of a serialization failure (40001). */
  serializationFailures: Counter<"participant">;
}

/**
 * `activeCounts` (DurableLog.activeCounts) is read when scraped, for the in-doubt gauge; a failed
 * read leaves the gauge as it was and counts as a store error.
 */
/** The log's active indexes, read when scraped. */
function inDoubtGauge(
  base: ServiceMetrics,
  activeCounts: (() => Promise<{ undecided: number; unacked: number }>) | undefined,
): Gauge<"index"> {
  return new Gauge({
    name: "concord_transactions_in_doubt",
    help: "transactions the log holds as not finished, by index (undecided, unacked)",
    labelNames: ["index"],
    registers: [base.registry],
    async collect() {
      if (!activeCounts) return;
      try {
        const counts = await activeCounts();
        this.set({ index: "undecided" }, counts.undecided);
        this.set({ index: "unacked" }, counts.unacked);
      } catch {
        base.storeErrors.inc({ store: "redis", operation: "active-counts" });
      }
    },
  });
}

export function createCoordinatorMetrics(
  activeCounts?: () => Promise<{ undecided: number; unacked: number }>,
): CoordinatorMetrics {
  const base = createServiceMetrics("coordinator");
  const registers = [base.registry];
  return {
    ...base,
    attempts: new Counter({
      name: "concord_attempts_total",
      help: "transaction attempts ended, by outcome and reason",
      labelNames: ["outcome", "reason"],
      registers,
    }),
    transactions: new Counter({
      name: "concord_transactions_total",
      help: "client transaction requests ended (all attempts), by outcome and reason",
      labelNames: ["outcome", "reason"],
      registers,
    }),
    retries: new Counter({
      name: "concord_retries_total",
      help: "attempts begun again after a transient refusal, by reason",
      labelNames: ["reason"],
      registers,
    }),
    phaseDuration: new Histogram({
      name: "concord_phase_duration_seconds",
      help: "seconds per phase: prepare, decide (the log write), phase2, end_to_end",
      labelNames: ["phase"],
      buckets: LATENCY_BUCKETS,
      registers,
    }),
    inFlight: new Gauge({
      name: "concord_transactions_in_flight",
      help: "client transaction requests being run now",
      registers,
    }),
    inDoubt: inDoubtGauge(base, activeCounts),
    recoveryActions: new Counter({
      name: "concord_recovery_actions_total",
      help: "what recovery and operators did to finish transactions, by action",
      labelNames: ["action"],
      registers,
    }),
    lockConflicts: new Counter({
      name: "concord_lock_conflicts_total",
      help: "NO votes because a row was held (conflict) or a lock wait timed out, by participant",
      labelNames: ["participant", "reason"],
      registers,
    }),
    deadlocks: new Counter({
      name: "concord_deadlocks_total",
      help: "NO votes because PostgreSQL found a deadlock (40P01), by participant",
      labelNames: ["participant"],
      registers,
    }),
    serializationFailures: new Counter({
      name: "concord_serialization_failures_total",
      help: "NO votes because of a serialization failure (40001), by participant",
      labelNames: ["participant"],
      registers,
    }),
  };
}
