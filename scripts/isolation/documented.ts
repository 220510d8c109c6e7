/**
 * The anomalies docs/isolation.md says a client may observe, per isolation level and per kind
 * of transaction, in the form the isolation workload checks: the test suite and
 * `npm run isolation` hold every anomaly the checker finds to this table, and none beyond it.
 *
 * An anomaly is allowed when its kind is allowed at the level and every transaction it names has
 * one of the labels listed (docs/isolation.md gives the reasons):
 * - a fractured read needs a plain read (no `hold`): plain reads release their locks before the
 *   decision, hold reads keep them to it like writes do;
 * - write skew needs a rule over rows the request does not name (the bank's customer total);
 *   SERIALIZABLE at the participant prevents it;
 * - lost updates and non-repeatable reads of named rows: never, at any level (every named row's
 *   key is held for the whole local transaction, writes until the decision).
 */
import type { IsolationLevel } from "../../shared/isolation.js";
import type { Anomaly, AnomalyKind } from "./anomalies.js";

/** Labels of the workload's transactions (workload.ts). */
export const LABELS = {
  transfer: "transfer",
  read: "read",
  holdRead: "hold-read",
  doubleRead: "double-read",
  linkedDebit: "linked-debit",
} as const;

const PLAIN_READ_FRACTURES = [LABELS.read, LABELS.doubleRead, LABELS.transfer];
const WEAK: Partial<Record<AnomalyKind, readonly string[]>> = {
  "fractured-read": PLAIN_READ_FRACTURES,
  "write-skew": [LABELS.linkedDebit],
};

export const DOCUMENTED: Record<IsolationLevel, Partial<Record<AnomalyKind, readonly string[]>>> = {
  "read-committed": WEAK,
  "repeatable-read": WEAK,
  serializable: { "fractured-read": PLAIN_READ_FRACTURES },
};

/** The anomalies found that the documentation does not allow at `level`. */
export function undocumented(
  level: IsolationLevel,
  anomalies: readonly Anomaly[],
  labelOf: (txn: string) => string | undefined,
): Anomaly[] {
  return anomalies.filter((a) => {
    const labels = (DOCUMENTED[level] as Partial<Record<string, readonly string[]>>)[a.kind];
    if (!labels) return true;
    return !a.txns.every((t) => labels.includes(labelOf(t) ?? ""));
  });
}
