/** The chaos run's report, as JSON and as Markdown. */
import { formatMarkdown } from "../checker/report-format.js";
import type { Report } from "../checker/invariants.js";
import type { FaultKind } from "./schedule.js";
import type { WorkloadResult } from "./workload.js";

export interface ChaosReport {
  ok: boolean;
  seed: number;
  durationSeconds: number;
  faultKinds: FaultKind[];
  faults: { atMs: number; startedAtMs: number; description: string; result: string }[];
  faultsInjected: Record<string, number>;
  transfers: WorkloadResult["transfers"];
  consistentReads: WorkloadResult["reads"];
  recoverySeconds: number | null;
  /** Processes that died without the schedule killing them: always a bug. */
  unexpectedExits: string[];
  checker: Report;
}

export function chaosMarkdown(r: ChaosReport): string {
  const lines = [
    `# Chaos run: seed ${r.seed}, ${r.durationSeconds} s — ${r.ok ? "every invariant holds" : "VIOLATIONS"}`,
    "",
    `Fault kinds: ${r.faultKinds.join(", ")}. Faults injected: ${
      Object.entries(r.faultsInjected)
        .map(([k, n]) => `${k} ${n}`)
        .join(", ") || "none"
    }.`,
    "",
    `Transfers: ${r.transfers.committed} committed, ${r.transfers.aborted} aborted, ${r.transfers.unknown} unknown, ${r.transfers.error} without an answer.`,
    `Consistent reads: ${r.consistentReads.committed} of ${r.consistentReads.attempted} committed (${r.consistentReads.firstTry} at the first try, a read cut by a fault is asked again up to 3 times); ${r.consistentReads.violations.length} saw a wrong total. Failed tries: ${
      Object.entries(r.consistentReads.failures)
        .map(([k, v]) => `${k} ${v}`)
        .join(", ") || "none"
    }.`,
    `Time to recover after the last fault healed: ${r.recoverySeconds === null ? "did not recover" : `${r.recoverySeconds.toFixed(1)} s`}.`,
    `Processes that exited on their own: ${r.unexpectedExits.length === 0 ? "none" : r.unexpectedExits.join(", ")}.`,
    "",
    "## Faults",
    "",
    "| at (s) | fault | result |",
    "|---|---|---|",
    ...r.faults.map(
      (f) => `| ${(f.startedAtMs / 1000).toFixed(1)} | ${f.description} | ${f.result} |`,
    ),
    "",
    formatMarkdown(r.checker, "Invariants"),
    ...(r.consistentReads.violations.length > 0
      ? [
          "",
          "## Consistent reads that saw a wrong total",
          "",
          ...r.consistentReads.violations.slice(0, 20).map((v) => `- ${v}`),
        ]
      : []),
  ];
  return `${lines.join("\n")}\n`;
}

export function chaosSummary(r: ChaosReport): string {
  const invariants = r.checker.invariants.map(
    (i) =>
      `${i.ok ? "PASS" : "FAIL"} ${i.id} ${i.name}${i.ok ? "" : `: ${i.violations.slice(0, 3).join("; ")}`}`,
  );
  return [
    `chaos seed ${r.seed}, ${r.durationSeconds} s: ${r.ok ? "every invariant holds" : "VIOLATIONS"}`,
    `  faults injected: ${
      Object.entries(r.faultsInjected)
        .map(([k, n]) => `${k} ${n}`)
        .join(", ") || "none"
    } (${r.faults.length} in all)`,
    `  transfers: ${r.transfers.committed} committed, ${r.transfers.aborted} aborted, ${r.transfers.unknown} unknown, ${r.transfers.error} without an answer`,
    `  consistent reads: ${r.consistentReads.committed}/${r.consistentReads.attempted} committed (${r.consistentReads.firstTry} at the first try), ${r.consistentReads.violations.length} wrong totals`,
    `  recovery after healing: ${r.recoverySeconds === null ? "did not recover" : `${r.recoverySeconds.toFixed(1)} s`}`,
    ...invariants.map((l) => `  ${l}`),
    `  ${r.consistentReads.violations.length === 0 ? "PASS" : "FAIL"} consistent reads saw the opened total`,
    `  ${r.unexpectedExits.length === 0 ? "PASS" : "FAIL"} no process exited on its own${r.unexpectedExits.length ? `: ${r.unexpectedExits.join(", ")}` : ""}`,
  ].join("\n");
}
