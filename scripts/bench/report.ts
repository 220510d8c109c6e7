/** The benchmark's report: the JSON shape, the ratios, and the Markdown tables. */
import type { CellResult } from "./cell.js";
import { contentionMarkdown, type ContentionResult } from "./contention.js";
import type { RowKind } from "./drivers.js";
import type { MemoryResult } from "./memory.js";
import type { RecoveryResult } from "./recovery.js";

export interface MachineInfo {
  cpus: number;
  model: string;
  totalMemoryBytes: number;
  node: string;
  platform: string;
  date: string;
}

export interface Ratio {
  participants: number;
  concurrency: number;
  /** Throughput of Concord over the protocol floor and over the ceiling. */
  tpsCOverB: number | null;
  tpsCOverA: number | null;
  /** Median latency of Concord over the floor and over the ceiling. */
  p50COverB: number | null;
  p50COverA: number | null;
}

export interface BenchReport {
  mode: "quick" | "full";
  machine: MachineInfo;
  wallSeconds: number;
  clockTicksPerSecond: number;
  notes: string[];
  cells: CellResult[];
  ratios: Ratio[];
  /** The role of every process named in `cpuSecondsPer1000`. */
  roles: Record<string, string>;
  recovery?: RecoveryResult[];
  memory?: MemoryResult;
  contention?: ContentionResult[];
}

export const ROW_TITLES: Record<RowKind, string> = {
  ceiling: "(a) ceiling: independent local commits, no atomicity",
  floor: "(b) protocol floor: 2PC from one process, decision in Redis, no HTTP",
  concord: "(c) Concord over HTTP",
  coordination: "(d) coordination only: no-op participants over HTTP",
};

const ratio = (x: number | undefined, y: number | undefined) =>
  x !== undefined && y !== undefined && y > 0 && Number.isFinite(x)
    ? Math.round((x / y) * 1000) / 1000
    : null;

export function ratios(cells: readonly CellResult[]): Ratio[] {
  const find = (row: RowKind, participants: number, concurrency: number) =>
    cells.find(
      (c) => c.row === row && c.participants === participants && c.concurrency === concurrency,
    );
  return cells
    .filter((c) => c.row === "concord")
    .map((c) => {
      const a = find("ceiling", c.participants, c.concurrency);
      const b = find("floor", c.participants, c.concurrency);
      return {
        participants: c.participants,
        concurrency: c.concurrency,
        tpsCOverB: ratio(c.tps, b?.tps),
        tpsCOverA: ratio(c.tps, a?.tps),
        p50COverB: ratio(c.latencyMs.p50, b?.latencyMs.p50),
        p50COverA: ratio(c.latencyMs.p50, a?.latencyMs.p50),
      };
    });
}

/** CPU per process grouped by role for the tables; the JSON keeps every process. */
export function cpuByRole(
  cpu: Record<string, number>,
  roleOf: (name: string) => string,
): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [name, seconds] of Object.entries(cpu)) {
    const role = roleOf(name);
    out[role] = Math.round(((out[role] ?? 0) + seconds) * 1000) / 1000;
  }
  return out;
}

const CPU_ROLES = ["coordinator", "participant", "redis", "postgres", "bench"] as const;

/** One row kind's table (none when it has no cells), with the first error seen in it. */
function rowSection(
  row: RowKind,
  cells: readonly CellResult[],
  roleOf: (name: string) => string,
): string[] {
  if (cells.length === 0) return [];
  const lines = [`## ${ROW_TITLES[row]}`, ""];
  lines.push(
    `| participants | concurrency | tx/s | p50 | p95 | p99 | errors | ${CPU_ROLES.map((x) => `CPU ${x}`).join(" | ")} |`,
  );
  lines.push(`|---:|---:|---:|---:|---:|---:|---:|${CPU_ROLES.map(() => "---:").join("|")}|`);
  for (const c of cells) {
    const cpu = cpuByRole(c.cpuSecondsPer1000, roleOf);
    const cpuCells = CPU_ROLES.map((role) =>
      cpu[role] === undefined ? "–" : cpu[role].toFixed(2),
    );
    lines.push(
      `| ${c.participants} | ${c.concurrency} | ${c.tps.toFixed(1)} | ${c.latencyMs.p50.toFixed(2)} | ${c.latencyMs.p95.toFixed(2)} | ${c.latencyMs.p99.toFixed(2)} | ${c.errors} | ${cpuCells.join(" | ")} |`,
    );
  }
  const errored = cells.find((c) => c.firstError);
  if (errored)
    lines.push(
      "",
      `First error (${errored.participants} participants, concurrency ${errored.concurrency}): \`${errored.firstError?.replace(/`/g, "'")}\``,
    );
  lines.push("");
  return lines;
}

function ratiosSection(ratios: readonly Ratio[]): string[] {
  if (ratios.length === 0) return [];
  const lines = ["## Ratios (Concord against the floor and the ceiling)", ""];
  lines.push(
    "| participants | concurrency | tx/s c/b | tx/s c/a | p50 c/b | p50 c/a |",
    "|---:|---:|---:|---:|---:|---:|",
  );
  const f = (x: number | null) => (x === null ? "–" : x.toFixed(3));
  for (const x of ratios)
    lines.push(
      `| ${x.participants} | ${x.concurrency} | ${f(x.tpsCOverB)} | ${f(x.tpsCOverA)} | ${f(x.p50COverB)} | ${f(x.p50COverA)} |`,
    );
  lines.push("");
  return lines;
}

function recoverySection(recovery: readonly RecoveryResult[] | undefined): string[] {
  if (!recovery || recovery.length === 0) return [];
  const lines = [
    "## Recovery throughput",
    "",
    "The coordinator is killed (SIGKILL) holding N decided, unacknowledged transactions (no-op participants) and started again; time until its log holds none unacknowledged.",
    "",
  ];
  lines.push(
    "| unacknowledged at kill | seconds from restart | seconds from ready | tx/s from restart |",
    "|---:|---:|---:|---:|",
  );
  for (const x of recovery)
    lines.push(
      `| ${x.unackedAtKill} | ${x.secondsFromSpawn.toFixed(2)} | ${x.secondsFromReady.toFixed(2)} | ${x.perSecondFromSpawn} |`,
    );
  lines.push("");
  return lines;
}

function memorySection(m: MemoryResult | undefined): string[] {
  if (!m) return [];
  const lines = [
    "## Memory under sustained load",
    "",
    `Coordination only, 2 participants, concurrency ${m.concurrency}; finished transactions expire after ${m.retentionSeconds} s. Redis is the decision log's server (keys include the cluster coordinator's and the floor row's records).`,
    "",
  ];
  lines.push(
    "| seconds | transactions | coordinator RSS MiB | Redis used MiB | Redis keys |",
    "|---:|---:|---:|---:|---:|",
  );
  for (const x of m.samples)
    lines.push(
      `| ${x.seconds.toFixed(0)} | ${x.transactions} | ${x.coordinatorRssMiB.toFixed(1)} | ${x.redisUsedMiB.toFixed(1)} | ${x.redisKeys} |`,
    );
  lines.push("");
  return lines;
}

export function benchMarkdown(r: BenchReport): string {
  const roleOf = (name: string) => r.roles[name] ?? name;
  const m = r.machine;
  const lines = [
    `# Concord benchmark (${r.mode})`,
    "",
    `${m.date} · ${m.cpus} × ${m.model} · ${(m.totalMemoryBytes / 2 ** 30).toFixed(1)} GiB · Node ${m.node} · ${m.platform} · run took ${r.wallSeconds.toFixed(0)} s`,
    "",
    "Latency in ms; CPU in seconds per 1,000 committed transactions, summed by role. Absolute numbers are noisy on a shared machine; the ratios measured side by side are what count.",
    "",
  ];
  for (const row of Object.keys(ROW_TITLES) as RowKind[])
    lines.push(
      ...rowSection(
        row,
        r.cells.filter((c) => c.row === row),
        roleOf,
      ),
    );
  lines.push(...ratiosSection(r.ratios));
  if (r.contention && r.contention.length > 0) lines.push(contentionMarkdown(r.contention));
  lines.push(...recoverySection(r.recovery));
  lines.push(...memorySection(r.memory));
  if (r.notes.length > 0) lines.push("## Notes", "", ...r.notes.map((n) => `- ${n}`), "");
  return lines.join("\n");
}
