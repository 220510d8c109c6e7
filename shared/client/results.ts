/**
 * From the coordinator's answer to what the client returns or throws: a run's result (committed,
 * aborted with why, or unknown), the body of a read, or the typed error of a refusal.
 */
import type { z } from "zod";
import {
  runAnswerSchema,
  wireErrorBodySchema,
  type Attempt,
  type ParticipantPart,
  type RunAnswer,
} from "./answers.js";
import {
  CoordinatorRequestError,
  CoordinatorResponseError,
  CoordinatorUnavailableError,
} from "./errors.js";
import type { Exchange } from "./transport.js";

interface ResultBase {
  /** The last attempt's txid (the one the outcome is of). */
  txid: string;
  /** Each participant's part in the last attempt: vote, state, reason, detail, results. */
  participants: ParticipantPart[];
  /** Every attempt the coordinator made, first to last. */
  attempts: Attempt[];
  /**
   * The Idempotency-Key the run was sent with: sending it again gets this same answer
   * (undefined when the run was sent with `idempotent: false`).
   */
  idempotencyKey: string | undefined;
  /** True when the coordinator answered an earlier run of the same key (Idempotent-Replayed). */
  replayed: boolean;
}

export interface CommittedResult extends ResultBase {
  outcome: "committed";
}

export interface AbortedResult extends ResultBase {
  outcome: "aborted";
  /** The coordinator's reason (`bank-a: insufficient-funds`, `deadline`, ...). */
  reason: string | undefined;
  /** The participant whose refusal (a NO vote and its reason) aborted it, when one did. */
  refusedBy: { participant: string; reason: string } | undefined;
}

/** The decision could not be recorded in time; recovery finishes the transaction. */
export interface UnknownResult extends ResultBase {
  outcome: "unknown";
  reason: string | undefined;
}

export type RunResult = CommittedResult | AbortedResult | UnknownResult;

function resultOf(
  answer: RunAnswer,
  idempotencyKey: string | undefined,
  replayed: boolean,
): RunResult {
  const base = {
    txid: answer.txid,
    participants: answer.participants,
    attempts: answer.attempts,
    idempotencyKey,
    replayed,
  };
  if (answer.outcome === "committed") return { ...base, outcome: "committed" };
  if (answer.outcome === "unknown") return { ...base, outcome: "unknown", reason: answer.reason };
  const refusing = answer.participants.find((p) => p.vote === "no" && p.reason !== undefined);
  return {
    ...base,
    outcome: "aborted",
    reason: answer.reason,
    refusedBy: refusing ? { participant: refusing.name, reason: refusing.reason ?? "" } : undefined,
  };
}

/** A run's answer: 200 is a result, and so is a 503 `outcome-unknown`; anything else throws. */
export function runResultOf(answer: Exchange, idempotencyKey: string | undefined): RunResult {
  const replayed = answer.headers["idempotent-replayed"] === "true";
  if (answer.status === 200 || answer.status === 503) {
    const parsed = runAnswerSchema.safeParse(answer.body);
    if (parsed.success && (answer.status === 200 || parsed.data.outcome === "unknown"))
      return resultOf(parsed.data, idempotencyKey, replayed);
    if (answer.status === 200) throw unreadable(answer, parsed.error?.message);
  }
  const withTx = runAnswerSchema.safeParse(answer.body);
  throw refusalOf(answer, idempotencyKey, withTx.success ? withTx.data : undefined);
}

/** A read's body, checked by `schema`, when it is a 200; throws the refusal otherwise. */
export function okBodyOf<T>(answer: Exchange, schema: z.ZodType<T, z.ZodTypeDef, unknown>): T {
  if (answer.status !== 200) throw refusalOf(answer, undefined, undefined);
  const parsed = schema.safeParse(answer.body);
  if (!parsed.success) throw unreadable(answer, parsed.error.message);
  return parsed.data;
}

function refusalOf(
  answer: Exchange,
  idempotencyKey: string | undefined,
  transaction: RunAnswer | undefined,
): Error {
  const error = wireErrorBodySchema.safeParse(
    (answer.body as { error?: unknown } | undefined)?.error,
  );
  if (answer.status === 503) {
    const why = error.success ? `${error.data.code}: ${error.data.message}` : "503";
    return new CoordinatorUnavailableError(
      `the coordinator is unavailable (${why})`,
      1,
      503,
      idempotencyKey,
    );
  }
  if (!error.success) return unreadable(answer, error.error.message);
  const retryAfter = answer.headers["retry-after"];
  return new CoordinatorRequestError(
    answer.status,
    error.data,
    transaction,
    typeof retryAfter === "string" ? retryAfter : undefined,
  );
}

function unreadable(answer: Exchange, why: string | undefined): CoordinatorResponseError {
  const text = typeof answer.body === "string" ? answer.body : JSON.stringify(answer.body);
  return new CoordinatorResponseError(
    `unreadable answer (${answer.status}): ${why ?? "not the expected shape"}; body ${text.slice(0, 300)}`,
    answer.status,
    answer.body,
  );
}
