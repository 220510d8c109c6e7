/**
 * The anomaly checker, in the spirit of Jepsen's Elle and bank test: a pure function from a
 * recorded history (history.ts) to the isolation anomalies it shows, by kind. It trusts only the
 * bank's facts: every committed write moves its account up one version and by its delta, and
 * nothing else changes accounts during a run. Aborted transactions are ignored (they changed and
 * saw nothing); unknown outcomes make the final-state check indeterminate rather than guessed.
 *
 * Everything is indexed once (history-index.ts), so the cost is near-linear in the history: about
 * the reads' account pairs times log n, plus the anomalies found.
 */
import { INVALID_HISTORY, kinds, type Anomaly, type CheckResult } from "./anomaly-kinds.js";
import { findFracturedReads } from "./fractured-reads.js";
import type { History } from "./history.js";
import { indexHistory } from "./history-index.js";
import { findInvalidHistory } from "./invalid-history.js";
import { findLostUpdates } from "./lost-updates.js";
import { findNonRepeatableReads } from "./non-repeatable-reads.js";
import { findWriteSkew } from "./write-skew.js";

export {
  countByKind,
  INVALID_HISTORY,
  kinds,
  type Anomaly,
  type AnomalyKind,
  type CheckResult,
  type FindingKind,
  type Indeterminate,
} from "./anomaly-kinds.js";

/** Every anomaly the history shows, invalid-history findings first, then by kind. */
export function checkHistory(history: History): CheckResult {
  const index = indexHistory(history);
  const lost = findLostUpdates(index);
  const fractured = findFracturedReads(index, history.conservedSets);
  const anomalies = [
    ...findInvalidHistory(index),
    ...lost.anomalies,
    ...fractured.anomalies,
    ...findNonRepeatableReads(index),
    ...findWriteSkew(index, history.initial, fractured.fracturedPairs),
  ];
  return {
    anomalies: anomalies.sort((a, b) => rank(a) - rank(b)),
    indeterminate: lost.indeterminate,
  };
}

/** Report order: a broken recorder first (it discredits the rest), then the kinds in order. */
function rank(anomaly: Anomaly): number {
  return anomaly.kind === INVALID_HISTORY ? -1 : kinds.indexOf(anomaly.kind);
}
