/** What the anomaly checker reports: the kinds, one finding's shape, and counts by kind. */
import type { AccountRef } from "./history.js";

/** The isolation anomalies the checker looks for. */
export const kinds = [
  "lost-update",
  "fractured-read",
  "non-repeatable-read",
  "write-skew",
] as const;
export type AnomalyKind = (typeof kinds)[number];

/**
 * Not an anomaly of the system under test: the history contradicts the bank's own facts (a
 * version that cannot exist, an account nobody declared), so the recorder or the workload is
 * broken and the other findings are not to be trusted.
 */
export const INVALID_HISTORY = "invalid-history";
export type FindingKind = AnomalyKind | typeof INVALID_HISTORY;

export interface Anomaly {
  kind: FindingKind;
  message: string;
  /** The transactions involved, by id. */
  txns: string[];
  accounts?: AccountRef[];
}

/** A check the history cannot decide, such as final balances when some outcomes are unknown. */
export interface Indeterminate {
  message: string;
  txns: string[];
  accounts?: AccountRef[];
}

export interface CheckResult {
  anomalies: Anomaly[];
  indeterminate: Indeterminate[];
}

/** Anomalies per kind, every kind present; invalid-history findings are not counted here. */
export function countByKind(anomalies: readonly Anomaly[]): Record<AnomalyKind, number> {
  const counts = Object.fromEntries(kinds.map((k) => [k, 0])) as Record<AnomalyKind, number>;
  for (const a of anomalies) if (a.kind !== INVALID_HISTORY) counts[a.kind] += 1;
  return counts;
}

/** A finding with its accounts, leaving `accounts` out when there are none. */
export function finding(
  kind: FindingKind,
  message: string,
  txns: readonly string[],
  accounts: readonly AccountRef[] = [],
): Anomaly {
  const unique = [...new Set(txns)];
  return accounts.length === 0
    ? { kind, message, txns: unique }
    : { kind, message, txns: unique, accounts: accounts.map(refOf) };
}

/** Only the reference, so an AccountState passed in does not carry its balance into a report. */
function refOf(ref: AccountRef): AccountRef {
  return { participant: ref.participant, account: ref.account };
}
