/** The anomaly checker's result for people: counts by kind, then the first few of each. */
import {
  countByKind,
  INVALID_HISTORY,
  kinds,
  type Anomaly,
  type CheckResult,
  type FindingKind,
} from "./anomaly-kinds.js";

/** Examples shown per kind; the counts say how many there are in all. */
const EXAMPLES = 3;

export function formatAnomalyReport(result: CheckResult, title = "isolation anomalies"): string {
  const { anomalies, indeterminate } = result;
  const counts = countByKind(anomalies);
  const invalid = anomalies.filter((a) => a.kind === INVALID_HISTORY).length;
  const total = kinds.reduce((sum, k) => sum + counts[k], 0);
  const lines = [`${title}: ${total === 0 ? "none" : `${total} found`}`];
  for (const kind of kinds) lines.push(`  ${kind}: ${counts[kind]}`);
  if (invalid > 0) {
    lines.push(`  ${INVALID_HISTORY}: ${invalid} (the recorder is broken: trust nothing below)`);
  }
  for (const kind of [INVALID_HISTORY, ...kinds] as FindingKind[]) {
    lines.push(
      ...examples(
        kind,
        anomalies.filter((a) => a.kind === kind),
      ),
    );
  }
  if (indeterminate.length > 0) {
    lines.push(`indeterminate (${indeterminate.length}, not counted):`);
    for (const i of indeterminate.slice(0, EXAMPLES)) lines.push(`  - ${i.message}`);
  }
  return `${lines.join("\n")}\n`;
}

function examples(kind: FindingKind, found: readonly Anomaly[]): string[] {
  if (found.length === 0) return [];
  const shown = found.slice(0, EXAMPLES);
  const head = `${kind} (${shown.length === found.length ? "all" : `first ${shown.length}`} of ${found.length}):`;
  return [
    head,
    ...shown.map((a) => `  - ${a.message}${a.txns.length > 0 ? ` [${a.txns.join(", ")}]` : ""}`),
  ];
}
