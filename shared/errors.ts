/**
 * Errors that cross a boundary (HTTP, a script, the CLI): one class per condition, each with
 * its code from the shared union (wire-errors.ts) and the data needed to act on it.
 */
import type { BusinessRule, ErrorCode } from "./wire-errors.js";

export abstract class ConcordError extends Error {
  abstract readonly code: ErrorCode;
  abstract readonly httpStatus: number;
  readonly field: string | undefined;

  constructor(message: string, field?: string) {
    super(message);
    this.name = new.target.name;
    this.field = field;
  }

  toBody(): { error: { code: string; message: string; field?: string } } {
    return {
      error: {
        code: this.code,
        message: this.message,
        ...(this.field ? { field: this.field } : {}),
      },
    };
  }
}

/** Thrown when a request's body, parameters or headers do not match their schema. */
export class ValidationError extends ConcordError {
  readonly code = "invalid-request";
  readonly httpStatus = 400;
}

/** Thrown when a request names a transaction, account or participant that does not exist. */
export class NotFoundError extends ConcordError {
  readonly code = "not-found";
  readonly httpStatus = 404;
}

/** A request that contradicts what is durably recorded about one transaction or resource. */
abstract class ConflictError extends ConcordError {
  readonly httpStatus = 409;
}

/** A message a participant refuses because of what it holds for the transaction. */
abstract class TransactionStateError extends ConflictError {
  constructor(
    readonly txid: string,
    why: string,
  ) {
    super(`transaction ${txid} ${why}`);
  }
}

/** ABORT (or a second PREPARE) for a transaction that committed here. */
export class AlreadyCommittedError extends TransactionStateError {
  readonly code = "already-committed";
  constructor(txid: string, why = "is already committed here") {
    super(txid, why);
  }
}

/** COMMIT for a transaction that aborted here. */
export class AlreadyAbortedError extends TransactionStateError {
  readonly code = "already-aborted";
  constructor(txid: string, why = "was aborted here; it cannot commit") {
    super(txid, why);
  }
}

/** COMMIT for a transaction this participant never prepared. */
export class NotPreparedError extends TransactionStateError {
  readonly code = "not-prepared";
  constructor(txid: string, why = "is not prepared here (no YES vote journaled)") {
    super(txid, why);
  }
}

/** A one-phase request for a transaction prepared here under two-phase commit. */
export class AlreadyPreparedError extends TransactionStateError {
  readonly code = "already-prepared";
  constructor(txid: string) {
    super(txid, "is prepared here under two-phase commit; one-phase refused");
  }
}

/** An Idempotency-Key sent again with a different request. */
export class IdempotencyKeyReusedError extends ConflictError {
  readonly code = "idempotency-key-reused";
  constructor(
    readonly key: string,
    readonly txid: string,
  ) {
    super(`Idempotency-Key ${key} was used for a different request (transaction ${txid})`);
  }
}

/** A transaction's txid already has a record (a duplicate begin, or a presumed abort). */
export class TransactionExistsError extends ConflictError {
  readonly code = "transaction-exists";
  constructor(
    readonly txid: string,
    message: string,
  ) {
    super(message);
  }
}

/** An account with this id exists (a bank's account opening). */
export class AccountExistsError extends ConflictError {
  readonly code = "account-exists";
  constructor(readonly account: string) {
    super(`account ${account} already exists`);
  }
}

/** An item with this id exists (an inventory's item creation). */
export class ItemExistsError extends ConflictError {
  readonly code = "item-exists";
  constructor(readonly item: string) {
    super(`item ${item} already exists`);
  }
}

/** Thrown when a request is authenticated wrongly or not at all. */
export class UnauthorizedError extends ConcordError {
  readonly code = "unauthorized";
  readonly httpStatus = 401;
}

/**
 * Thrown when a request is well-formed but breaks a business rule checked before anything runs
 * (an unbalanced transfer, say). `code` names the rule.
 */
export class UnprocessableError extends ConcordError {
  readonly httpStatus = 422;
  constructor(
    message: string,
    readonly code: BusinessRule,
    field?: string,
  ) {
    super(message, field);
  }
}

/** Thrown when the caller is authenticated but this route or resource is not theirs to use. */
export class ForbiddenError extends ConcordError {
  readonly code = "forbidden";
  readonly httpStatus = 403;
}

/**
 * Thrown when a client is over one of its limits (transactions in flight, held time, requests
 * per second). Retrying later can help; `retryAfterSeconds` says when.
 */
export class TooManyRequestsError extends ConcordError {
  readonly code = "too-many-requests";
  readonly httpStatus = 429;
  constructor(
    message: string,
    readonly limit: "in-flight" | "held-time" | "rate",
    readonly retryAfterSeconds: number,
  ) {
    super(message);
  }

  override toBody(): { error: { code: string; message: string; limit: string } } {
    return { error: { code: this.code, message: this.message, limit: this.limit } };
  }
}

/** Thrown when the request body is larger than the limit. */
export class PayloadTooLargeError extends ConcordError {
  readonly code = "payload-too-large";
  readonly httpStatus = 413;
}

/** Thrown when the request body is not JSON. */
export class UnsupportedMediaTypeError extends ConcordError {
  readonly code = "unsupported-media-type";
  readonly httpStatus = 415;
}

/** Thrown when a dependency (Redis, PostgreSQL, a participant) cannot be reached right now. */
export class UnavailableError extends ConcordError {
  readonly code = "unavailable";
  readonly httpStatus = 503;
}

/**
 * A request that arrived after the service began to stop (shared/drain.ts): refused before any
 * handler ran, so nothing was done and the same request may be sent again anywhere.
 */
export class DrainingError extends ConcordError {
  readonly code = "draining";
  readonly httpStatus = 503;
}

/**
 * Thrown at start-up when a store is configured so that it could lose what we write to it.
 * Not an HTTP error: the process stops with this message.
 */
export class UnsafeConfigurationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UnsafeConfigurationError";
  }
}
