/**
 * A participant's metrics, fed by the ParticipantEvent observer (participant-events.ts) and by
 * recovery: every message by kind and result, how long each took, votes by reason, contention
 * (lock conflicts and timeouts, deadlocks, serialization failures), recovery's actions and the
 * transactions prepared here now (read from pg_prepared_xacts when scraped).
 */
import type pg from "pg";
import { Counter, Gauge, Histogram } from "prom-client";
import {
  BoundedLabel,
  contentionOf,
  createServiceMetrics,
  LATENCY_BUCKETS,
  type ServiceMetrics,
} from "../../shared/metrics.js";
import type { ParticipantEvent } from "./participant-events.js";

export interface ParticipantMetrics extends ServiceMetrics {
  /** Messages handled, by kind (prepare, one-phase, commit, abort, peer-inquiry) and result. */
  messages: Counter<"message" | "result">;
  messageDuration: Histogram<"message">;
  /** PREPARE votes (and one-phase outcomes as `committed`/`aborted`), by reason. */
  votes: Counter<"vote" | "reason">;
  /** NO because a row was held by an older transaction (`conflict`) or a lock wait timed out. */
  lockConflicts: Counter<"reason">;
  /** NO because PostgreSQL found a deadlock (40P01). */
  deadlocks: Counter<"isolation">;
  /** NO because of a serialization failure (40001). */
  serializationFailures: Counter<"isolation">;
  /** What recovery did with a prepared transaction: `commit`/`abort` (by source) or `wait`. */
  recoveryActions: Counter<"action" | "source">;
  /** Transactions prepared in this participant's database now (set when scraped). */
  prepared: Gauge;
}

/**
 * `countPrepared` is read when scraped; a failed read leaves the gauge as it was and counts as a
 * store error.
 */
export function createParticipantMetrics(
  name: string,
  countPrepared?: () => Promise<number>,
): ParticipantMetrics {
  const base = createServiceMetrics(name);
  const registers = [base.registry];
  return {
    ...base,
    messages: new Counter({
      name: "concord_participant_messages_total",
      help: "2PC messages handled, by message kind and result",
      labelNames: ["message", "result"],
      registers,
    }),
    messageDuration: new Histogram({
      name: "concord_participant_message_duration_seconds",
      help: "seconds from a 2PC message's arrival to its answer, by message kind",
      labelNames: ["message"],
      buckets: LATENCY_BUCKETS,
      registers,
    }),
    votes: new Counter({
      name: "concord_participant_votes_total",
      help: "votes (prepare) and outcomes (one-phase), by vote and reason",
      labelNames: ["vote", "reason"],
      registers,
    }),
    lockConflicts: new Counter({
      name: "concord_participant_lock_conflicts_total",
      help: "NO votes because a row was held (conflict) or a lock wait timed out (lock-timeout)",
      labelNames: ["reason"],
      registers,
    }),
    deadlocks: new Counter({
      name: "concord_participant_deadlocks_total",
      help: "NO votes because PostgreSQL found a deadlock (40P01), by the level the transaction ran at",
      labelNames: ["isolation"],
      registers,
    }),
    serializationFailures: new Counter({
      name: "concord_participant_serialization_failures_total",
      help: "NO votes because of a serialization failure (40001), by the level the transaction ran at",
      labelNames: ["isolation"],
      registers,
    }),
    recoveryActions: new Counter({
      name: "concord_participant_recovery_actions_total",
      help: "what participant recovery did with a prepared transaction, and who told it",
      labelNames: ["action", "source"],
      registers,
    }),
    prepared: new Gauge({
      name: "concord_participant_prepared_transactions",
      help: "transactions prepared in this participant's database now (pg_prepared_xacts)",
      registers,
      async collect() {
        if (!countPrepared) return;
        try {
          this.set(await countPrepared());
        } catch {
          base.storeErrors.inc({ store: "postgres", operation: "count-prepared" });
        }
      },
    }),
  };
}

/** The result label of a message: what was answered, or the refusal's kind. */
function resultOf(result: ParticipantEvent["result"]): string {
  switch (result.kind) {
    case "vote":
      return result.vote;
    case "one-phase":
      return result.outcome;
    case "ack":
      return result.state;
    case "inquiry":
      return result.decision;
    case "refused":
      return `refused-${result.refusal}`;
  }
}

/** The observer startParticipant installs: counts each message, its vote and its contention. */
export function metricsObserver(metrics: ParticipantMetrics): (event: ParticipantEvent) => void {
  const reasons = new BoundedLabel();
  return (event) => {
    const { message, result } = event;
    metrics.messages.inc({ message, result: resultOf(result) });
    metrics.messageDuration.observe({ message }, event.durationMs / 1000);
    if (result.kind !== "vote" && result.kind !== "one-phase") return;
    const vote = result.kind === "vote" ? result.vote : result.outcome;
    metrics.votes.inc({ vote, reason: reasons.of(result.reason) });
    const contention = contentionOf(result.reason);
    if (contention === "lock-conflict")
      metrics.lockConflicts.inc({ reason: reasons.of(result.reason) });
    const isolation = event.isolation ?? "unknown";
    if (contention === "deadlock") metrics.deadlocks.inc({ isolation });
    else if (contention === "serialization-failure")
      metrics.serializationFailures.inc({ isolation });
  };
}

/** This participant's prepared transactions in its own database (others may share the server). */
export function preparedCounter(pool: pg.Pool, name: string): () => Promise<number> {
  return async () => {
    const { rows } = await pool.query<{ n: string }>(
      "SELECT count(*) AS n FROM pg_prepared_xacts WHERE database = current_database() AND starts_with(gid, $1)",
      [`concord:${name}:`],
    );
    return Number(rows[0]?.n ?? 0);
  };
}
