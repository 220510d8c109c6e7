/**
 * When the coordinator runs a request again after an attempt aborted: a pure function of what
 * happened, no clock and no randomness of its own (the caller passes both), tested by scripts of
 * attempts in test/unit/retry-policy.test.ts.
 *
 * An attempt is retried only when a refusal that can go away by itself aborted it: a wait-die
 * conflict (the participant met an older transaction on a row), a lock timeout, a deadlock, a
 * serialization failure, or a participant out of prepared-transaction slots. Running the same
 * operations again is then safe (the aborted attempt changed nothing) and may succeed. A business
 * refusal (insufficient funds, a version conflict, an unknown account), a malformed request, a
 * participant that did not answer and a passed deadline end the request: retrying cannot change
 * them, or the deadline forbids it.
 */

/** Vote reasons that are transient: the same operations may succeed if run again. */
export const TRANSIENT_REASONS: ReadonlySet<string> = new Set([
  "conflict",
  "lock-timeout",
  "deadlock",
  "serialization-failure",
  "busy",
]);

export interface AttemptOutcome {
  outcome: "committed" | "aborted" | "unknown";
  /** The refusal that aborted it, if a refusal did. */
  abortCause?: { participant: string; reason: string } | undefined;
  /** A participant found the request itself wrong (a 4xx): never retried. */
  clientFault: boolean;
}

export interface RetryBudget {
  /** This attempt's number, 1 for the first. */
  attempt: number;
  /** Attempts allowed in all; 0 or 1 means no retry. */
  maxAttempts: number;
  /** Time left until the request's deadline. */
  remainingMs: number;
}

/** The wait before attempt n + 1: exponential from 5 ms, capped at 200 ms, with full jitter. */
export function retryDelayMs(attempt: number, random: number): number {
  const cap = Math.min(200, 5 * 2 ** Math.max(0, attempt - 1));
  return Math.floor(cap / 2 + (cap / 2) * random);
}

/** Whether the aborted attempt is worth running again, and after how long. */
export function nextAttempt(
  o: AttemptOutcome,
  budget: RetryBudget,
  random: number,
): { retry: false; why: string } | { retry: true; delayMs: number } {
  if (o.outcome !== "aborted")
    return {
      retry: false,
      why: o.outcome === "committed" ? "committed" : "the outcome is unknown: recovery settles it",
    };
  if (o.clientFault) return { retry: false, why: "the request itself was refused" };
  if (!o.abortCause)
    return {
      retry: false,
      why: "aborted by a failure or the deadline, not by a transient refusal",
    };
  if (!TRANSIENT_REASONS.has(o.abortCause.reason))
    return { retry: false, why: `${o.abortCause.reason} is not transient` };
  if (budget.attempt >= Math.max(1, budget.maxAttempts))
    return { retry: false, why: `no attempts left (${budget.maxAttempts})` };
  const delayMs = retryDelayMs(budget.attempt, random);
  // An attempt needs time to prepare and decide; a sliver of deadline would only abort again.
  if (budget.remainingMs - delayMs < MIN_ATTEMPT_MS)
    return { retry: false, why: "the deadline leaves no time for another attempt" };
  return { retry: true, delayMs };
}

/** The least time left before the deadline for another attempt to be worth starting. */
export const MIN_ATTEMPT_MS = 100;
