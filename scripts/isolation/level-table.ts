/**
 * The table of isolation levels against the anomalies the checker found (npm run isolation),
 * beside what docs/isolation.md allows, as Markdown.
 */
import { ISOLATION_LEVELS } from "../../shared/isolation.js";
import { kinds } from "./anomaly-kinds.js";
import { DOCUMENTED } from "./documented.js";
import type { WorkloadRun } from "./workload.js";

function requestsLine(run: WorkloadRun): string {
  return Object.entries(run.requests)
    .map(([label, outcomes]) => {
      const parts = Object.entries(outcomes).map(([o, n]) => `${n} ${o}`);
      return `${label}: ${parts.join(", ")}`;
    })
    .join("; ");
}

export function levelTable(runs: readonly WorkloadRun[]): string {
  const header = `| level | ${kinds.join(" | ")} | undocumented | indeterminate |`;
  const rule = `|---|${kinds.map(() => "---").join("|")}|---|---|`;
  const rows = runs.map((run) => {
    const allowed = DOCUMENTED[run.level];
    const cells = kinds.map((k) => {
      const found = run.counts[k];
      return `${found} (${allowed[k] ? "allowed" : "never"})`;
    });
    return `| ${run.level} | ${cells.join(" | ")} | ${run.undocumented.length} | ${run.result.indeterminate.length} |`;
  });
  const requests = runs.map((run) => `- ${run.level}: ${requestsLine(run)}`);
  return [header, rule, ...rows, "", "Requests by kind and outcome:", ...requests, ""].join("\n");
}

/** Levels named on the command line, checked. */
export function levelsFrom(text: string): (typeof ISOLATION_LEVELS)[number][] {
  const names = text.split(",").map((s) => s.trim());
  for (const n of names)
    if (!(ISOLATION_LEVELS as readonly string[]).includes(n))
      throw new Error(`unknown level ${n}; choose from ${ISOLATION_LEVELS.join(", ")}`);
  return names as (typeof ISOLATION_LEVELS)[number][];
}
