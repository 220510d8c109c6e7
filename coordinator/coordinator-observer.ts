/**
 * What the coordinator tells its metrics, as it happens: the engine, the driver, recovery, the
 * series of attempts and the API call these hooks (all optional, through DriverIo.observer) and
 * never read anything back, so metrics cannot change what the protocol does. The pure core
 * (protocol*.ts) knows nothing of them. An observer that throws is logged and ignored.
 */
import type { Logger } from "../shared/logger.js";
import { BoundedLabel, contentionOf } from "../shared/metrics.js";
import type { CoordinatorMetrics, Phase } from "./coordinator-metrics.js";
import type { TransactionResult } from "./transaction-result.js";

/** What recovery did with one transaction it took up from the log. */
export type RecoveryAction = "commit" | "abort" | "presumed-abort" | "postponed";

export interface CoordinatorObserver {
  /** An attempt (one txid) ended for the engine: its answer. */
  attemptEnded(result: TransactionResult): void;
  /** A client request ended (all its attempts): what the client is told. */
  requestEnded(result: TransactionResult): void;
  requestStarted(): void;
  /** The request's gauge goes down whether it ended with a result or an error. */
  requestLeft(): void;
  /** An attempt begins again after this abort cause (its reason code). */
  retried(reason: string | undefined): void;
  phaseEnded(phase: Phase, seconds: number): void;
  /** A participant voted NO (or aborted in one phase) with this reason. */
  votedNo(participant: string, reason: string | undefined): void;
  recovered(action: RecoveryAction): void;
  /** A call to the decision log (Redis) failed: `operation` says which. */
  storeError(operation: string): void;
}

/** The label an attempt's or a request's end is counted under: a reason code, never free text. */
function reasonOf(result: TransactionResult, reasons: BoundedLabel): string {
  if (result.outcome === "committed") return "none";
  if (result.clientFault) return reasons.of(result.clientFault.code);
  if (result.abortCause) return reasons.of(result.abortCause.reason);
  if (result.outcome === "unknown") return "outcome-unknown";
  const text = result.reason ?? "";
  if (text.startsWith("deadline passed")) return "deadline";
  if (text.includes(" did not vote: ")) return "no-vote";
  return "other";
}

export function metricsObserver(metrics: CoordinatorMetrics, logger: Logger): CoordinatorObserver {
  const reasons = new BoundedLabel();
  const observer: CoordinatorObserver = {
    attemptEnded: (r) => {
      metrics.attempts.inc({ outcome: r.outcome, reason: reasonOf(r, reasons) });
    },
    requestEnded: (r) => {
      metrics.transactions.inc({ outcome: r.outcome, reason: reasonOf(r, reasons) });
    },
    requestStarted: () => {
      metrics.inFlight.inc();
    },
    requestLeft: () => {
      metrics.inFlight.dec();
    },
    retried: (reason) => {
      metrics.retries.inc({ reason: reasons.of(reason, "unspecified") });
    },
    phaseEnded: (phase, seconds) => {
      metrics.phaseDuration.observe({ phase }, seconds);
    },
    votedNo: (participant, reason) => {
      const contention = contentionOf(reason);
      if (contention === "lock-conflict")
        metrics.lockConflicts.inc({ participant, reason: reasons.of(reason) });
      else if (contention === "deadlock") metrics.deadlocks.inc({ participant });
      else if (contention === "serialization-failure")
        metrics.serializationFailures.inc({ participant });
    },
    recovered: (action) => {
      metrics.recoveryActions.inc({ action });
    },
    storeError: (operation) => {
      metrics.storeErrors.inc({ store: "redis", operation });
    },
  };
  return guarded(observer, logger);
}

/** The same hooks, each of which logs and swallows what it throws. */
function guarded(observer: CoordinatorObserver, logger: Logger): CoordinatorObserver {
  const safe = {} as Record<string, (...args: unknown[]) => void>;
  for (const [name, hook] of Object.entries(observer) as [string, (...a: unknown[]) => void][]) {
    safe[name] = (...args) => {
      try {
        hook(...args);
      } catch (err) {
        logger.warn({ hook: name, err: String(err) }, "metrics observer failed");
      }
    };
  }
  return safe as unknown as CoordinatorObserver;
}
