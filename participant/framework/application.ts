import type { Express } from "express";
import type { Pool, PoolClient, QueryResult } from "pg";
import type { z } from "zod";
import type { OperationRules } from "../../shared/operation-rules.js";
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
  /**
   * The whole `operations` list of a PREPARE, checked before any SQL runs (a 400 naming the
   * field otherwise). Published as JSON Schema, so the coordinator refuses a malformed request
   * before it logs anything: keep it to what JSON Schema can say (types, patterns, bounds,
   * strict objects, discriminated unions), with no refinements.
   */
  readonly operations: z.ZodType<Ops, z.ZodTypeDef, unknown>;
  /**
   * The rules of each operation kind (shared/operation-rules.ts), published with the schema:
   * the lock key each kind takes, conserved quantities, operator-only kinds, and the NO-vote
   * reasons that are the client's fault. Lock keys come from here unless `lockKeys` is given.
   */
  readonly rules?: OperationRules;
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
   * The application's own invariants, checked over its database at rest (npm run verify, the
   * chaos runner): e.g. money conserved for a bank, stock plus sold conserved for inventory.
   * Served to the operator at GET /v1/invariants. `db` is one read-only REPEATABLE READ
   * snapshot, opened by the framework, so all checks of one call see the same state.
   */
  invariants?(db: PoolClient): Promise<InvariantCheck[]>;
  /**
   * Routes of the application's own (reads, administration), each mounted with
   * shared/routes.ts mountRoute so that it declares who may call it.
   */
  mountRoutes?(app: Express, ctx: { pool: Pool; logger: Logger; auth: Authenticator }): void;
}

/** One invariant of an application and whether it holds; `totals` feed checks across participants. */
export interface InvariantCheck {
  name: string;
  holds: boolean;
  /** What was checked, or the first violations found. */
  detail: string;
  /**
   * Per conserved quantity (operation-rules.ts), this participant's present amount and the amount
   * that entered it from outside transactions (e.g. account openings), as decimal strings: summed
   * over every participant they must be equal (money moves between banks, never made).
   */
  totals?: Record<string, { present: string; entered: string }>;
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
