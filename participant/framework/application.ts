import type { Express } from "express";
import type { Pool, PoolClient, QueryResult } from "pg";
import type { Authenticator } from "../../shared/auth.js";
import type { Logger } from "../../shared/logger.js";
import type { Migration } from "./pg-store.js";

/**
 * What an application plugs into the participant framework: how to parse its operations and
 * how to execute them inside an open PostgreSQL transaction. The framework owns everything else:
 * BEGIN, timeouts, the outcome row, PREPARE TRANSACTION, idempotency and the journal.
 */
export interface Application<Ops> {
  readonly name: string;
  /** Schema steps, each applied once at start-up (see pg-store.ts migrate). */
  readonly migrations: readonly Migration[];
  /** Checks operations completely before any SQL runs; throws ValidationError (400). */
  parseOperations(raw: unknown[]): Ops;
  /**
   * Executes the operations in the open transaction. Throws VoteNoError for a business refusal.
   * `readOnly` means nothing was written and no lock needs to outlive the call.
   */
  execute(
    client: PoolClient,
    txid: string,
    ops: Ops,
  ): Promise<{ readOnly: boolean; results?: unknown[] }>;
  /**
   * Optional, for speed: the operations as SQL text, so that BEGIN, the outcome row, these
   * statements and PREPARE TRANSACTION reach PostgreSQL in one round trip. Every value must be
   * written with `literal` (it escapes) or be a number the application computed. A statement
   * refuses by raising through `concord_refuse('<json with reason>')`, which stops the batch
   * before PREPARE TRANSACTION. Undefined means: use `execute`.
   */
  statements?(
    txid: string,
    ops: Ops,
    literal: (value: string) => string,
  ): StatementPlan | undefined;
  /**
   * The keys the operations lock, for the framework's wait-die locking (pg-store.ts
   * concord_lock_keys), which runs before `statements` or `execute`: `exclusive` for a write,
   * shared for a read. A key names what it locks, e.g. `accounts:alice`. Without this, the
   * application's own row locks are all there is, and transactions over the same rows at two
   * participants can only be untangled by the lock timeout.
   */
  lockKeys?(ops: Ops): LockKey[];
  /** A PostgreSQL error from the statements that is a business refusal (a CHECK, say), or undefined. */
  refusalFor?(err: unknown, ops: Ops): VoteNoError | undefined;
  /**
   * Routes of the application's own (reads, administration), each mounted with
   * shared/routes.ts mountRoute so that it declares who may call it.
   */
  mountRoutes?(app: Express, ctx: { pool: Pool; logger: Logger; auth: Authenticator }): void;
}

export interface LockKey {
  key: string;
  exclusive: boolean;
}

export interface StatementPlan {
  sql: string[];
  /** Reads the statements' results (one per statement, in order) into the vote's results. */
  interpret(results: QueryResult[]): unknown[];
}

/** Thrown by an application when the participant must vote NO (insufficient funds, a conflict…). */
export class VoteNoError extends Error {
  constructor(
    readonly reason: string,
    readonly detail?: Record<string, unknown>,
  ) {
    super(reason);
    this.name = "VoteNoError";
  }
}
