/**
 * Errors that cross a boundary (HTTP, a script, the CLI). Each says what happened, carries the
 * context needed to act on it, and tells retry logic whether trying again can help.
 */
export abstract class ConcordError extends Error {
  abstract readonly code: string;
  abstract readonly httpStatus: number;
  abstract readonly retryable: boolean;
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
  readonly retryable = false;
}

/** Thrown when a request names a transaction, account or participant that does not exist. */
export class NotFoundError extends ConcordError {
  readonly code = "not-found";
  readonly httpStatus = 404;
  readonly retryable = false;
}

/** Thrown when a request contradicts what is already durably recorded (e.g. COMMIT after ABORT). */
export class ConflictError extends ConcordError {
  readonly code: string;
  readonly httpStatus = 409;
  readonly retryable = false;
  constructor(message: string, code = "conflict") {
    super(message);
    this.code = code;
  }
}

/** Thrown when a request is authenticated wrongly or not at all. */
export class UnauthorizedError extends ConcordError {
  readonly code = "unauthorized";
  readonly httpStatus = 401;
  readonly retryable = false;
}

/**
 * Thrown when a request is well-formed but breaks a business rule checked before anything runs
 * (an unbalanced transfer, say). `code` names the rule.
 */
export class UnprocessableError extends ConcordError {
  readonly code: string;
  readonly httpStatus = 422;
  readonly retryable = false;
  constructor(message: string, code: string, field?: string) {
    super(message, field);
    this.code = code;
  }
}

/** Thrown when the caller is authenticated but this route or resource is not theirs to use. */
export class ForbiddenError extends ConcordError {
  readonly code = "forbidden";
  readonly httpStatus = 403;
  readonly retryable = false;
}

/**
 * Thrown when a client is over one of its limits (transactions in flight, held time, requests
 * per second). Retrying later can help; `retryAfterSeconds` says when.
 */
export class TooManyRequestsError extends ConcordError {
  readonly code = "too-many-requests";
  readonly httpStatus = 429;
  readonly retryable = true;
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
  readonly retryable = false;
}

/** Thrown when the request body is not JSON. */
export class UnsupportedMediaTypeError extends ConcordError {
  readonly code = "unsupported-media-type";
  readonly httpStatus = 415;
  readonly retryable = false;
}

/** Thrown when a dependency (Redis, PostgreSQL, a participant) cannot be reached right now. */
export class UnavailableError extends ConcordError {
  readonly code = "unavailable";
  readonly httpStatus = 503;
  readonly retryable = true;
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
