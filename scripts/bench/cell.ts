/**
 * One cell of the matrix: `concurrency` workers run transfers back to back, first for a warm-up
 * that is not recorded, then for a measured window. Both phases are bounded in time and in count.
 */
import { monotonicMs } from "../../shared/clock.js";
import { cpuPerThousand, sampleCpu, type TrackedProcess } from "./cpu.js";
import type { RowKind, Transfer } from "./drivers.js";
import { summarize, type LatencySummaryMs } from "./stats.js";

export interface CellResult {
  row: RowKind;
  participants: number;
  concurrency: number;
  transactions: number;
  errors: number;
  firstError?: string;
  seconds: number;
  tps: number;
  latencyMs: LatencySummaryMs;
  cpuSecondsPer1000: Record<string, number>;
}

export interface CellPlan {
  row: RowKind;
  participants: number;
  concurrency: number;
  warmupMs: number;
  measureMs: number;
  /** Upper bound on transactions in the measured window, whatever the time. */
  maxTransactions: number;
}

interface Window {
  latenciesMs: number[];
  errors: number;
  firstError: string | undefined;
}

async function runWindow(
  transfer: Transfer,
  concurrency: number,
  durationMs: number,
  maxTransactions: number,
): Promise<Window> {
  const w: Window = { latenciesMs: [], errors: 0, firstError: undefined };
  const until = monotonicMs() + durationMs;
  let started = 0;
  const worker = async (index: number) => {
    while (monotonicMs() < until && started < maxTransactions) {
      started++;
      const t0 = monotonicMs();
      try {
        await transfer(index);
        w.latenciesMs.push(monotonicMs() - t0);
      } catch (err) {
        w.errors++;
        w.firstError ??= err instanceof Error ? err.message : String(err);
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, (_, i) => worker(i)));
  return w;
}

/** Runs transfers for a while and forgets the numbers: what a row does before its first cell. */
export async function warmUp(
  transfer: Transfer,
  concurrency: number,
  durationMs: number,
): Promise<void> {
  await runWindow(transfer, concurrency, durationMs, Number.MAX_SAFE_INTEGER);
}

export async function runCell(
  plan: CellPlan,
  transfer: Transfer,
  processes: () => readonly TrackedProcess[],
  ticksPerSecond: number,
): Promise<CellResult> {
  await runWindow(transfer, plan.concurrency, plan.warmupMs, plan.maxTransactions);
  const tracked = processes();
  const cpuBefore = sampleCpu(tracked);
  const t0 = monotonicMs();
  const w = await runWindow(transfer, plan.concurrency, plan.measureMs, plan.maxTransactions);
  const seconds = (monotonicMs() - t0) / 1000;
  const cpuAfter = sampleCpu(tracked);
  const transactions = w.latenciesMs.length;
  return {
    row: plan.row,
    participants: plan.participants,
    concurrency: plan.concurrency,
    transactions,
    errors: w.errors,
    ...(w.firstError ? { firstError: w.firstError } : {}),
    seconds: Math.round(seconds * 1000) / 1000,
    tps: Math.round((transactions / seconds) * 10) / 10,
    latencyMs: summarize(w.latenciesMs),
    cpuSecondsPer1000: cpuPerThousand(cpuBefore, cpuAfter, transactions, ticksPerSecond),
  };
}
