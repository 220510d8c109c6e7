/** What a caller asks the coordinator: a run's participants and options, a list's filter. */
import type { IsolationLevel } from "../isolation.js";
import type { ListState } from "./answers.js";

/** One participant's part of a transaction: its name and its operations (its application's). */
export interface ParticipantOperations {
  name: string;
  /** Each an object with its application's fields (a bank's `{op, account, amount}`). */
  operations: readonly object[];
  /** This participant's isolation level, over the run's. */
  isolation?: IsolationLevel;
}

export interface RunRequest {
  participants: readonly ParticipantOperations[];
  /**
   * The isolation level of every participant's part (`read-committed`, `repeatable-read`,
   * `serializable`); each participant's default when absent. See docs/isolation.md.
   */
  isolation?: IsolationLevel;
  /** The transaction's deadline at the coordinator, every attempt included (its default if absent). */
  timeoutMs?: number;
  /** Attempts the coordinator may make after transient aborts (`retry.maxAttempts`, 0-100). */
  maxAttempts?: number;
  /** Sent as Idempotency-Key; a fresh UUID v4 when absent. */
  idempotencyKey?: string;
  /**
   * false: no Idempotency-Key is sent, and the run is sent once, never again (a resend without
   * a key could run it twice). It saves the coordinator the key's durable write in its log: for
   * measurements, and callers that would not resend anyway. Default true.
   */
  idempotent?: boolean;
  /** Overrides the client's `deadlineMs` for this call. */
  deadlineMs?: number;
  /** Overrides the client's `retries` for this call. */
  retries?: number;
}

export interface ListRequest {
  state?: ListState;
  /** 1-500 (the coordinator's default is 50). */
  limit?: number;
}

/** The request body of a run. */
export function bodyOf(req: RunRequest): object {
  return {
    participants: req.participants.map((p) => ({
      name: p.name,
      operations: p.operations,
      ...(p.isolation !== undefined ? { isolation: p.isolation } : {}),
    })),
    ...(req.isolation !== undefined ? { isolation: req.isolation } : {}),
    ...(req.timeoutMs !== undefined ? { timeoutMs: req.timeoutMs } : {}),
    ...(req.maxAttempts !== undefined ? { retry: { maxAttempts: req.maxAttempts } } : {}),
  };
}
