/**
 * A constraint the application's statements broke is a NO vote (a one-phase abort) that names
 * it, never a 500: a CHECK, a unique key, a foreign key or a NOT NULL column says the operations
 * cannot be applied to the data as it is, which is a refusal, not a bug. The reason is
 * `constraint:<name>` (`constraint:not-null:<table>.<column>` for a NOT NULL column, which
 * PostgreSQL 15 does not name). The application's own `refusalFor` is asked first (a bank turns
 * its balance CHECK into insufficient-funds). The framework's own outcome row is not one of
 * these: its unique violation means the txid was seen before (participant-core.ts).
 */
import { VoteNoError } from "./application.js";
import { OUTCOME_TABLE, PG, pgCode, pgField } from "./pg-errors.js";

export type ConstraintKind = "check" | "unique" | "foreign-key" | "not-null";

const KINDS: Readonly<Record<string, ConstraintKind>> = {
  [PG.checkViolation]: "check",
  [PG.uniqueViolation]: "unique",
  [PG.foreignKeyViolation]: "foreign-key",
  [PG.notNullViolation]: "not-null",
};

/** Reasons are at most 200 characters on the wire (shared/messages.ts). */
const MAX_REASON = 200;

/** The NO vote for a constraint violation, or undefined for any other error. */
export function constraintRefusal(err: unknown): VoteNoError | undefined {
  const code = pgCode(err);
  const kind = code === undefined ? undefined : KINDS[code];
  if (kind === undefined) return undefined;
  const table = pgField(err, "table");
  if (kind === "unique" && table === OUTCOME_TABLE) return undefined;
  const column = pgField(err, "column");
  const named = pgField(err, "constraint");
  const name =
    kind === "not-null"
      ? `not-null:${table ?? "?"}.${column ?? "?"}`
      : (named ?? `${kind}${table ? `:${table}` : ""}`);
  return new VoteNoError(`constraint:${name}`.slice(0, MAX_REASON), {
    constraint: named ?? name,
    kind,
    ...(table !== undefined ? { table } : {}),
    ...(column !== undefined ? { column } : {}),
  });
}
