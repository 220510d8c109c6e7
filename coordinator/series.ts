/**
 * One client request, run as a series of attempts: each attempt is a whole transaction of its own
 * (its own txid, begin record, votes, decision), and an attempt that a transient refusal aborted
 * is followed by another (coordinator/retry-policy.ts), until one commits, a refusal ends the
 * request or its deadline passes.
 *
 * Every attempt after the first gets a txid carrying the first attempt's time (UUID v7's first
 * 48 bits). Participants order transactions by txid for wait-die (pg-store.ts concord_lock_keys):
 * a retried request keeps its age, so it ends up the oldest and wins, and nothing starves.
 */
import { monotonicMs, sleep } from "../shared/clock.js";
import type { DurableLog } from "../shared/durable-log.js";
import { newTxid, txidAt, txidTimeMs } from "../shared/ids.js";
import type { IsolationLevel } from "../shared/isolation.js";
import { bindLogContext, type LogContext } from "../shared/log-context.js";
import type { Logger } from "../shared/logger.js";
import type { Engine, TransactionResult } from "./engine.js";
import type { CoordinatorObserver } from "./coordinator-observer.js";
import type { HotKeys } from "./hot-keys.js";
import { nextAttempt } from "./retry-policy.js";

export interface AttemptSummary {
  txid: string;
  outcome: "committed" | "aborted" | "unknown";
  reason?: string;
}

export interface SeriesResult extends TransactionResult {
  /** Every attempt, first to last; the last is this result's txid. */
  attempts: AttemptSummary[];
}

export interface SeriesInput {
  /** Each with the isolation level it was asked for; its own default when none. */
  participants: { name: string; operations: unknown[]; isolation?: IsolationLevel }[];
  /** The deadline of the whole request, every attempt included. */
  timeoutMs: number;
  maxAttempts: number;
  client?: string;
  /** The rows the request locks, by participant, when the coordinator knows them (HotKeys). */
  keys?: { participant: string; key: string }[];
  /** The client's key (scoped by client), and the request's hash: the key follows the latest attempt. */
  idempotency?: { scopedKey: string; key: string; requestHash: string; firstTxid: string };
  /** The request's id and Idempotency-Key, for every log line about each attempt's txid. */
  logContext?: LogContext | undefined;
}

function summary(r: TransactionResult): AttemptSummary {
  const reason = r.abortCause ? `${r.abortCause.participant}: ${r.abortCause.reason}` : r.reason;
  return { txid: r.txid, outcome: r.outcome, ...(reason ? { reason } : {}) };
}

/**
 * Runs the request. Throws only when its first attempt could not begin (the decision log is
 * unreachable: nothing was done); a later attempt that cannot begin ends the series with the
 * previous attempt's answer, which is certain.
 */
export async function runSeries(deps: SeriesDeps, input: SeriesInput): Promise<SeriesResult> {
  const random = deps.random ?? Math.random;
  const startedAt = monotonicMs();
  const leftMs = () => input.timeoutMs - (monotonicMs() - startedAt);
  const first = input.idempotency?.firstTxid ?? newTxid();
  const attempts: AttemptSummary[] = [];
  let last: TransactionResult | undefined;
  // Ordered from the start on rows that conflicted lately (a parallel attempt would only die
  // there), and after a conflict: such attempts may wait for each other without ever
  // deadlocking, so they queue for a hot row instead of dying.
  let ordered =
    deps.hotKeys !== undefined &&
    input.keys !== undefined &&
    deps.hotKeys.anyHot(input.keys, startedAt);
  for (let attempt = 1; ; attempt++) {
    const txid = attempt === 1 ? first : txidAt(txidTimeMs(first));
    bindLogContext(txid, input.logContext);
    const timeoutMs = Math.max(1, Math.floor(leftMs()));
    let result: TransactionResult;
    try {
      result = await runAttempt(deps, input, { txid, first, attempt, last, ordered, timeoutMs });
    } catch (err) {
      if (!last) throw err;
      // The earlier attempt aborted for certain; this one began nothing we know of.
      const context = { txid, series: first, attempt, err: String(err) };
      deps.logger.warn(context, "retry not begun; answering the last attempt");
      return finish(deps, input, attempts, last);
    }
    attempts.push(summary(result));
    const next = nextAttempt(
      {
        outcome: result.outcome,
        abortCause: result.abortCause,
        clientFault: result.clientFault !== undefined,
      },
      { attempt, maxAttempts: input.maxAttempts, remainingMs: leftMs() },
      random(),
    );
    if (!next.retry) {
      const { outcome } = result;
      const context = { txid, series: first, attempts: attempt, outcome, why: next.why };
      if (attempt > 1) deps.logger.info(context, "series ended");
      return finish(deps, input, attempts, result);
    }
    const cause = result.abortCause;
    last = result;
    if (cause?.reason === "conflict") {
      ordered = true;
      if (cause.key) deps.hotKeys?.noteConflict(cause.participant, cause.key, monotonicMs());
    }
    // Stopping (drain): no new attempt, before the pause nor after it.
    if (deps.draining?.() !== true) {
      deps.logger.debug({ txid, series: first, attempt, cause, delayMs: next.delayMs }, "retrying");
      deps.observer?.retried(cause?.reason);
      await sleep(next.delayMs);
    }
    if (deps.draining?.() === true) {
      deps.logger.info({ txid, series: first, attempts: attempt }, "not retried: draining");
      return finish(deps, input, attempts, notRetried(result));
    }
  }
}

/**
 * The answer of a series the coordinator stops retrying because it is stopping: a new attempt
 * could outlast the drain bound. The last attempt aborted for certain, and the reason says so.
 */
function notRetried(result: TransactionResult): TransactionResult {
  const why = result.abortCause
    ? `${result.abortCause.participant}: ${result.abortCause.reason}`
    : (result.reason ?? "aborted");
  return {
    ...result,
    reason: `${why}; not retried: the coordinator is stopping (drain). Send the request again with a new Idempotency-Key, to another instance or later`,
  };
}

interface SeriesDeps {
  engine: Engine;
  log: DurableLog;
  logger: Logger;
  hotKeys?: HotKeys;
  random?: () => number;
  /** True once the coordinator is stopping: a series then makes no new attempt (shared/drain.ts). */
  draining?: () => boolean;
  /** Told of each retry, for metrics (coordinator-observer.ts). */
  observer?: CoordinatorObserver | undefined;
}

/**
 * One attempt: the idempotency key moves to it first (a client's retry then waits for this
 * attempt), and once it has begun the attempt before it points to it.
 */
async function runAttempt(
  deps: SeriesDeps,
  input: SeriesInput,
  a: {
    txid: string;
    first: string;
    attempt: number;
    last: TransactionResult | undefined;
    ordered: boolean;
    timeoutMs: number;
  },
): Promise<TransactionResult> {
  const { txid, last } = a;
  const key = input.idempotency;
  if (last && key)
    await deps.log.advanceIdempotencyKey(key.scopedKey, txid, key.requestHash, false);
  const result = await deps.engine.run({
    txid,
    participants: input.participants,
    timeoutMs: a.timeoutMs,
    ...(key ? { idempotencyKey: key.key } : {}),
    ...(input.client ? { client: input.client } : {}),
    ...(last ? { link: { series: a.first, attempt: a.attempt, previous: last.txid } } : {}),
    ...(a.ordered ? { ordered: true } : {}),
  });
  if (last) {
    await deps.log.linkNextAttempt(last.txid, txid).catch((err: unknown) => {
      deps.logger.warn({ txid, previous: last.txid, err: String(err) }, "attempt link not written");
    });
  }
  return result;
}

/** Marks the idempotency key with the final attempt, so that a client's retry gets this answer. */
async function finish(
  deps: { log: DurableLog; logger: Logger },
  input: SeriesInput,
  attempts: AttemptSummary[],
  result: TransactionResult,
): Promise<SeriesResult> {
  if (input.idempotency) {
    await deps.log
      .advanceIdempotencyKey(
        input.idempotency.scopedKey,
        result.txid,
        input.idempotency.requestHash,
        true,
      )
      .catch((err: unknown) => {
        deps.logger.warn(
          { txid: result.txid, err: String(err) },
          "idempotency key not marked done; a retry with it waits, then settles the last attempt",
        );
      });
  }
  return { ...result, attempts };
}
