/**
 * CPU time of the processes under test, from /proc/<pid>/stat (utime + stime, in clock ticks).
 * A PostgreSQL server is a postmaster and one backend per connection: it is counted as the
 * postmaster, its live children, and the children it has reaped (cutime + cstime), so a backend
 * that exits during a cell is neither lost nor counted twice.
 */
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";

export interface TrackedProcess {
  name: string;
  role: string;
  pid: number;
  /** Count the process's children too (PostgreSQL). */
  withChildren: boolean;
}

export type CpuTicks = Map<string, number>;

export function clockTicksPerSecond(): number {
  const r = spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" });
  const n = Number(r.stdout.trim());
  return r.status === 0 && Number.isInteger(n) && n > 0 ? n : 100;
}

interface Stat {
  ppid: number;
  own: number;
  reaped: number;
}

/** Fields after the command name, which is in parentheses and may itself contain spaces. */
function readStat(pid: number): Stat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return undefined;
  }
  const f = text.slice(text.lastIndexOf(")") + 2).split(" ");
  // f[0] is field 3 (state): ppid is field 4, utime..cstime are fields 14..17.
  const n = (field: number) => Number(f[field - 3] ?? 0);
  return { ppid: n(4), own: n(14) + n(15), reaped: n(16) + n(17) };
}

function childrenOf(parents: Set<number>): Map<number, number> {
  const out = new Map<number, number>();
  if (parents.size === 0) return out;
  for (const entry of readdirSync("/proc")) {
    if (!/^[0-9]+$/.test(entry)) continue;
    const s = readStat(Number(entry));
    if (s && parents.has(s.ppid)) out.set(s.ppid, (out.get(s.ppid) ?? 0) + s.own);
  }
  return out;
}

export function sampleCpu(processes: readonly TrackedProcess[]): CpuTicks {
  const children = childrenOf(new Set(processes.filter((p) => p.withChildren).map((p) => p.pid)));
  const out: CpuTicks = new Map();
  for (const p of processes) {
    const s = readStat(p.pid);
    if (!s) continue;
    out.set(p.name, s.own + (p.withChildren ? s.reaped + (children.get(p.pid) ?? 0) : 0));
  }
  return out;
}

/** CPU seconds per 1,000 transactions for each process seen in both samples. */
export function cpuPerThousand(
  before: CpuTicks,
  after: CpuTicks,
  transactions: number,
  ticksPerSecond: number,
): Record<string, number> {
  const out: Record<string, number> = {};
  if (transactions <= 0) return out;
  for (const [name, end] of after) {
    const start = before.get(name);
    if (start === undefined) continue;
    out[name] = Math.round(((end - start) / ticksPerSecond / transactions) * 1000 * 1000) / 1000;
  }
  return out;
}
