/** The chaos run's report, as JSON and as Markdown. */
import { formatMarkdown } from "../checker/report-format.js";
import type { Report } from "../checker/invariants.js";
import type { FaultKind } from "./schedule.js";
import type { OutcomeCounts, WorkloadResult } from "./workload.js";

export interface ChaosReport {
  ok: boolean;
  seed: number;
  durationSeconds: number;
  faultKinds: FaultKind[];
  faults: { atMs: number; startedAtMs: number; description: string; result: string }[];
  faultsInjected: Record<string, number>;
  transfers: WorkloadResult["transfers"];
  /** Orders (a payment between two banks and a reserve at an inventory); absent without one. */
  orders?: WorkloadResult["orders"];
  /** The items orders reserve and their opening stock (describeShop); absent without orders. */
  shop?: string;
  consistentReads: WorkloadResult["reads"];
  recoverySeconds: number | null;
  /** Processes that died without the schedule killing them: always a bug. */
  unexpectedExits: string[];
  checker: Report;
}

/** `12 committed, 3 aborted (1 out of stock), 0 unknown, 2 without an answer`. */
export function outcomesLine(c: OutcomeCounts & { outOfStock?: number }): string {
  const outOfStock = c.outOfStock === undefined ? "" : ` (${String(c.outOfStock)} out of stock)`;
  return `${String(c.committed)} committed, ${String(c.aborted)} aborted${outOfStock}, ${String(c.unknown)} unknown, ${String(c.error)} without an answer`;
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
    `Transfers: ${outcomesLine(r.transfers)}.`,
    r.orders
      ? `Orders (one request in four: a payment between two banks and a reserve at an inventory; items ${r.shop ?? "?"}): ${outcomesLine(r.orders)}. Aborted orders by reason: ${
          Object.entries(r.orders.abortReasons)
            .map(([k, v]) => `${k} ${String(v)}`)
            .join(", ") || "none"
        }.`
      : "Orders: none (no inventory in the cluster).",
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
    `  transfers: ${outcomesLine(r.transfers)}`,
    ...(r.orders ? [`  orders: ${outcomesLine(r.orders)}`] : []),
    `  consistent reads: ${r.consistentReads.committed}/${r.consistentReads.attempted} committed (${r.consistentReads.firstTry} at the first try), ${r.consistentReads.violations.length} wrong totals`,
    `  recovery after healing: ${r.recoverySeconds === null ? "did not recover" : `${r.recoverySeconds.toFixed(1)} s`}`,
    ...invariants.map((l) => `  ${l}`),
    `  ${r.consistentReads.violations.length === 0 ? "PASS" : "FAIL"} consistent reads saw the opened total`,
    `  ${r.unexpectedExits.length === 0 ? "PASS" : "FAIL"} no process exited on its own${r.unexpectedExits.length ? `: ${r.unexpectedExits.join(", ")}` : ""}`,
  ].join("\n");
}
