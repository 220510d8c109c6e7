/**
 * Isolation levels, defined once: what a client may ask for (per transaction, per participant),
 * what a participant runs by default and the weakest it allows (its floor), and the SQL that
 * opens a local transaction at a level. PostgreSQL's READ UNCOMMITTED is READ COMMITTED in
 * practice, so it is not offered: every level named here is one PostgreSQL really runs.
 * What each level guarantees across participants is in docs/isolation.md.
 */
import { z } from "zod";

/** Weakest first: a level's index is its strength. */
export const ISOLATION_LEVELS = ["read-committed", "repeatable-read", "serializable"] as const;
export type IsolationLevel = (typeof ISOLATION_LEVELS)[number];

export const isolationSchema = z.enum(ISOLATION_LEVELS, {
  errorMap: () => ({ message: `must be one of ${ISOLATION_LEVELS.join(", ")}` }),
});

/** PostgreSQL's default, and so every participant's unless its operator chooses another. */
export const DEFAULT_ISOLATION: IsolationLevel = "read-committed";

const SQL: Record<IsolationLevel, string> = {
  "read-committed": "READ COMMITTED",
  "repeatable-read": "REPEATABLE READ",
  serializable: "SERIALIZABLE",
};

/**
 * BEGIN at a level, always named: a participant's database may have another
 * default_transaction_isolation, and the level asked for must be the level run.
 */
export function beginAt(level: IsolationLevel): string {
  return `BEGIN ISOLATION LEVEL ${SQL[level]}`;
}

export function strength(level: IsolationLevel): number {
  return ISOLATION_LEVELS.indexOf(level);
}

/** Whether `level` is `floor` or stronger. */
export function allows(floor: IsolationLevel, level: IsolationLevel): boolean {
  return strength(level) >= strength(floor);
}

/** What a participant publishes of its levels (its descriptor): the default and the floor. */
export const isolationPolicySchema = z
  .object({ default: isolationSchema, floor: isolationSchema })
  .strict();
export type IsolationPolicy = z.infer<typeof isolationPolicySchema>;

/** The refusal of a level below a participant's floor, in the words both services use. */
export function belowFloorMessage(
  participant: string,
  level: IsolationLevel,
  floor: IsolationLevel,
): string {
  return `participant ${participant} runs no transaction below ${floor}; ${level} was asked for (ask for ${ISOLATION_LEVELS.filter((l) => allows(floor, l)).join(" or ")})`;
}
