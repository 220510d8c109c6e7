/** PostgreSQL error codes the participant acts on (https://www.postgresql.org/docs/15/errcodes-appendix.html). */
export const PG = {
  uniqueViolation: "23505",
  checkViolation: "23514",
  foreignKeyViolation: "23503",
  notNullViolation: "23502",
  lockNotAvailable: "55P03",
  queryCanceled: "57014",
  deadlockDetected: "40P01",
  serializationFailure: "40001",
  undefinedObject: "42704",
  invalidTextRepresentation: "22P02",
  numericValueOutOfRange: "22003",
  /** out_of_memory; at PREPARE TRANSACTION: "maximum number of prepared transactions reached". */
  outOfMemory: "53200",
} as const;

/** The table of each transaction's outcome here (pg-store.ts): a txid's row is written once. */
export const OUTCOME_TABLE = "concord_txn";

export function pgCode(err: unknown): string | undefined {
  return pgField(err, "code");
}

/** The table a constraint violation is about (PostgreSQL sends it with the error). */
export function pgTable(err: unknown): string | undefined {
  return pgField(err, "table");
}

/** A field PostgreSQL sent with an error (node-postgres puts each on the error object). */
export function pgField(
  err: unknown,
  field: "code" | "table" | "column" | "constraint" | "schema",
): string | undefined {
  const value = (err as Partial<Record<string, unknown>> | undefined)?.[field];
  return typeof value === "string" ? value : undefined;
}

/** Failures that are a normal NO vote (contention, timeouts), not a bug. */
export function voteNoReasonFor(err: unknown): string | undefined {
  switch (pgCode(err)) {
    case PG.lockNotAvailable:
      return "lock-timeout";
    case PG.queryCanceled:
      return "statement-timeout";
    case PG.deadlockDetected:
      return "deadlock";
    case PG.serializationFailure:
      return "serialization-failure";
    case PG.outOfMemory:
      // Every prepared-transaction slot is taken: a transient refusal, retry later.
      return "busy";
    default:
      return undefined;
  }
}
