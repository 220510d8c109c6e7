/**
 * Error bodies on the wire, `{"error": {"code", "message", ...}}`: the codes every service may
 * send, in one union shared by the coordinator and the participants, and the schema a receiver
 * parses a body with instead of casting it.
 */
import { z } from "zod";

/** Every error code a Concord service sends, and the condition it names. */
export const ERROR_CODES = {
  "invalid-request": "a body, parameter or header does not match its schema",
  "not-found": "no such transaction, account or route",
  unauthorized: "no valid credential for the route",
  forbidden: "a valid credential that may not use this route or resource",
  "payload-too-large": "the body is larger than the limit",
  "unsupported-media-type": "the body is not UTF-8 JSON",
  "too-many-requests": "the client is over one of its limits",
  unavailable: "a store or a service cannot be reached now; nothing was done",
  draining: "the service is stopping (drain): nothing was done; retry on another instance or later",
  internal: "a bug; see the service's log",
  // A business rule refused the request before anything was logged (422; the code names it).
  unbalanced: "a transaction's debits and credits differ",
  "isolation-below-floor": "an isolation level weaker than a participant allows (its floor)",
  // The coordinator.
  "outcome-unknown": "the decision could not be recorded; recovery will finish the transaction",
  "idempotency-key-reused": "an Idempotency-Key sent again with a different request",
  "transaction-exists": "a transaction with this txid already has a record",
  "bad-batch-reply": "a participant's batch reply left a message unanswered",
  // The coordinator's operator actions (coordinator/operator-api.ts); each changes nothing.
  undecided: "retry of a transaction the register holds no decision for: abort it, or wait",
  "already-finished": "retry of a transaction that has ended: there is nothing to send",
  "one-phase": "abort of an undecided one-phase transaction: only its participant decides it",
  // A participant, about one transaction.
  "already-committed": "the transaction committed here: ABORT (or another PREPARE) is refused",
  "already-aborted": "the transaction aborted here: COMMIT is refused",
  "not-prepared": "COMMIT for a transaction this participant never prepared",
  "already-prepared": "one-phase for a transaction prepared here under two-phase commit",
  // A participant's application.
  "account-exists": "an account with this id exists",
  "item-exists": "an item with this id exists",
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

/** The codes of the rules a request can break before anything runs (422). */
export type BusinessRule = Extract<ErrorCode, "unbalanced" | "isolation-below-floor">;

export function isErrorCode(code: string): code is ErrorCode {
  return Object.hasOwn(ERROR_CODES, code);
}

/**
 * An error body as received. The code is any short string: a participant's application may
 * name its own rules, and an unknown code is still shown, never trusted for a decision.
 */
export const wireErrorSchema = z.object({
  error: z
    .object({ code: z.string().min(1).max(200), message: z.string().max(100_000) })
    .passthrough(),
});

export interface WireError {
  code: string;
  message: string;
  /** The code when it is one this codebase sends; decisions only ever look at this. */
  known: ErrorCode | undefined;
}

/** The error inside a reply body, or undefined when the body is not an error body. */
export function wireErrorOf(body: unknown): WireError | undefined {
  const parsed = wireErrorSchema.safeParse(body);
  if (!parsed.success) return undefined;
  const { code, message } = parsed.data.error;
  return { code, message, known: isErrorCode(code) ? code : undefined };
}
