/**
 * What the client throws. A refusal the coordinator explained (4xx, or a 5xx that is not retried)
 * is a CoordinatorRequestError with the wire error's code; no answer at all, after every attempt
 * the client was allowed, is a CoordinatorUnavailableError; an answer that does not match its
 * schema is a CoordinatorResponseError.
 */
import { isErrorCode, type ErrorCode } from "../wire-errors.js";
import type { RunAnswer, WireErrorBody } from "./answers.js";

/** The base of every error the client throws. */
export class ConcordClientError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The coordinator refused the request: `status` and the wire error's fields say why. */
export class CoordinatorRequestError extends ConcordClientError {
  /** The code as sent (an application's participant may name its own rules). */
  readonly code: string;
  /** The code when it is one of shared/wire-errors.ts ERROR_CODES, else undefined. */
  readonly known: ErrorCode | undefined;
  /** The request field at fault (`body.participants.0.name`), when the coordinator names one. */
  readonly field: string | undefined;
  /** The participant that refused (a client fault it found: an unknown account, a bad operation). */
  readonly participant: string | undefined;
  /** Which per-client limit a 429 is about. */
  readonly limit: string | undefined;
  /** A 429's Retry-After, in seconds. */
  readonly retryAfterSeconds: number | undefined;

  constructor(
    readonly status: number,
    /** The wire error as received: `{code, message, field?, participant?, limit?}`. */
    readonly error: WireErrorBody,
    /**
     * The transaction's answer when the refusal came with one: a participant's client fault
     * aborts a transaction that was begun (its txid, `outcome: "aborted"`).
     */
    readonly answer: RunAnswer | undefined,
    retryAfter?: string,
  ) {
    super(`coordinator refused (${status} ${error.code}): ${error.message}`);
    this.code = error.code;
    this.known = isErrorCode(error.code) ? error.code : undefined;
    this.field = error.field;
    this.participant = error.participant;
    this.limit = error.limit;
    const seconds = retryAfter === undefined ? NaN : Number(retryAfter);
    this.retryAfterSeconds = Number.isFinite(seconds) ? seconds : undefined;
  }
}

/**
 * No usable answer within the attempts and the deadline: connections refused, reset or timed
 * out, or 503 every time. For a run the outcome is not known to the client: send the same
 * request again with `idempotencyKey` to learn it (the coordinator runs nothing twice).
 */
export class CoordinatorUnavailableError extends ConcordClientError {
  constructor(
    message: string,
    readonly attempts: number,
    /** The last HTTP status seen, if any attempt got one. */
    readonly lastStatus: number | undefined,
    /** The run's Idempotency-Key (undefined for reads). */
    readonly idempotencyKey: string | undefined,
    cause?: unknown,
  ) {
    super(message, { cause });
  }
}

/** An answer the client cannot read: not JSON, or not the shape its schema expects. */
export class CoordinatorResponseError extends ConcordClientError {
  constructor(
    message: string,
    readonly status: number,
    readonly body: unknown,
  ) {
    super(message);
  }
}
