/** The checker's report for people: plain text for a terminal, Markdown for a CI summary or a note. */
import { MAX_VIOLATIONS, type InvariantResult, type Report } from "./invariants.js";

/** Violations shown per invariant in text; the JSON report carries up to MAX_VIOLATIONS. */
const TEXT_VIOLATIONS = 5;

const IN_FLIGHT_HINT =
  "work is still in flight (I6): participants are read one snapshot each, so the other invariants may show transactions half-way; rerun when the cluster is at rest";

export function formatText(report: Report, title = "verify"): string {
  const failed = report.invariants.filter((i) => !i.ok);
  const lines = [
    `${title}: ${failed.length === 0 ? "every invariant holds" : `FAILED ${failed.map((i) => i.id).join(", ")}`}`,
  ];
  for (const inv of report.invariants) lines.push(...textInvariant(inv));
  lines.push(...summaryLines(report).map((l) => `  ${l}`));
  if (isInFlight(report)) lines.push(`note: ${IN_FLIGHT_HINT}`);
  return `${lines.join("\n")}\n`;
}

function textInvariant(inv: InvariantResult): string[] {
  const head = `${inv.ok ? "PASS" : "FAIL"} ${inv.id} ${inv.name} (${countsOf(inv)})`;
  const shown = inv.violations.slice(0, TEXT_VIOLATIONS).map((v) => `       - ${v}`);
  const rest = inv.violations.length - shown.length + inv.omitted;
  return rest > 0
    ? [head, ...shown, `       … and ${rest} more (--json lists the first ${MAX_VIOLATIONS})`]
    : [head, ...shown];
}

export function formatMarkdown(report: Report, title = "Concord invariants"): string {
  const lines = [
    `## ${title}: ${report.ok ? "all hold" : "violated"}`,
    "",
    "| | invariant | checked | violations |",
    "|---|---|---|---|",
  ];
  for (const inv of report.invariants) {
    lines.push(
      `| ${inv.ok ? "✅" : "❌"} | ${inv.id} ${inv.name} | ${escapeMarkdown(inv.detail ?? `${inv.checked} ${inv.subject}`)} | ${inv.violations.length + inv.omitted} |`,
    );
  }
  for (const inv of report.invariants.filter((i) => !i.ok)) {
    lines.push(
      "",
      `### ${inv.id} ${inv.name}`,
      "",
      ...inv.violations.map((v) => `- ${escapeMarkdown(v)}`),
    );
    if (inv.omitted > 0) lines.push(`- … and ${inv.omitted} more`);
  }
  lines.push("", ...summaryLines(report).map((l) => `- ${l}`));
  if (isInFlight(report)) lines.push("", `> Note: ${IN_FLIGHT_HINT}.`);
  return `${lines.join("\n")}\n`;
}

function countsOf(inv: InvariantResult): string {
  const total = inv.violations.length + inv.omitted;
  const checked = inv.detail ?? `${inv.checked} ${inv.subject} checked`;
  return total === 0 ? checked : `${total} violation${total === 1 ? "" : "s"}; ${checked}`;
}

function summaryLines(report: Report): string[] {
  const s = report.summary;
  const lines = [
    `participants ${s.participants} (banks ${s.banks}), accounts ${s.accounts}, ledger entries ${s.ledgerEntries}`,
    `txids committed ${s.committedTxids}, aborted ${s.abortedTxids}; log records found ${s.logRecords}`,
    `total balance ${s.totalBalance}, opened with ${s.totalOpened} (minor units)`,
    `prepared left ${s.prepared}; log undecided ${s.undecided}, unacknowledged ${s.unacked}`,
  ];
  const c = s.clientRecord;
  if (c)
    lines.push(
      `client record: committed ${c.committed}, aborted ${c.aborted}, unknown ${c.unknown}, error ${c.error}`,
    );
  return lines;
}

function isInFlight(report: Report): boolean {
  return report.summary.prepared > 0 || report.summary.undecided > 0 || report.summary.unacked > 0;
}

/** Violations quote account ids, which may hold characters Markdown would interpret. */
function escapeMarkdown(text: string): string {
  return text.replace(/[\\`*_[\]<>|]/g, (c) => `\\${c}`);
}
