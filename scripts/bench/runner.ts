/**
 * A benchmark run: start a private cluster, open one account per worker at every bank, and run
 * the matrix of rows × participant counts × concurrencies on that same data, measuring throughput,
 * latency and CPU per process. Everything started here is stopped in `finally`.
 */
import { mkdirSync, rmSync } from "node:fs";
import { cpus, platform, release, totalmem } from "node:os";
import { join, resolve } from "node:path";
import { Redis } from "ioredis";
import pg from "pg";
import { monotonicMs } from "../../shared/clock.js";
import { DurableLog } from "../../shared/durable-log.js";
import { startCluster, stopCluster } from "../cluster/cluster.js";
import type { IsolationLevel } from "../../shared/isolation.js";
import { adminSecretOf, type ClusterFile } from "../cluster/cluster-file.js";
import { removeOutsideData } from "../cluster/postgres.js";
import { stopProcess } from "../cluster/processes.js";
import { runCell, warmUp, type CellResult } from "./cell.js";
import { clockTicksPerSecond, type TrackedProcess } from "./cpu.js";
import {
  accountOf,
  ceilingTransfer,
  floorTransfer,
  httpTransfer,
  type RowKind,
  type Transfer,
} from "./drivers.js";
import {
  BENCH_ARCHIVE_AFTER_SECONDS,
  BENCH_RETENTION_SECONDS,
  coordinatorControl,
  startNoopParticipants,
  type Extra,
} from "./extra-processes.js";
import { KeepAliveJson } from "./http-json.js";
import { measureMemory, type MemoryResult } from "./memory.js";
import { measureRecovery, type CoordinatorControl, type RecoveryResult } from "./recovery.js";
import { ratios, type BenchReport } from "./report.js";
import {
  HOT_ACCOUNT,
  runContentionCell,
  ZIPF_ACCOUNTS,
  zipfAccount,
  type ContentionResult,
} from "./contention.js";

/**
 * The benchmark is one client pushing as hard as it can: the per-client limits, which exist to
 * keep one client from starving others, would measure themselves instead of Concord.
 */
export const BENCH_ENV: Record<string, string> = {
  // The cluster's coordinator shares the log with the coordination-only one: the same window,
  // whichever of the two holds the archiver's lease.
  CONCORD_ARCHIVE_AFTER_SECONDS: "10",
  CONCORD_CLIENT_MAX_IN_FLIGHT: "100000",
  CONCORD_CLIENT_MAX_HELD_MS: "86400000",
  CONCORD_CLIENT_RATE_PER_SECOND: "1000000",
  CONCORD_CLIENT_RATE_BURST: "1000000",
};

export const DEFAULT_BENCH_DIR = ".concord/bench";
const OPENING_BALANCE = "1000000000000";
const MAX_TRANSACTIONS_PER_CELL = 200_000;

export interface BenchOptions {
  quick: boolean;
  dir: string;
  /** Rows to run; the default is all four. */
  rows: RowKind[];
  /** Also measure recovery throughput and memory (they need the coordination-only row's processes). */
  extras: boolean;
  /** Run the contention section (hot pair, Zipf) on the real cluster. */
  contention: boolean;
  log: (line: string) => void;
}

interface Matrix {
  banks: number;
  concurrencies: number[];
  /** Participant counts for (c) and (d); (a) and (b) always use 2. */
  participantCounts: number[];
  warmupMs: number;
  measureMs: number;
  /** Before a row's first cell: JIT, connection pools and plans warm up over thousands of transactions. */
  rowWarmupMs: number;
  recoveryCounts: number[];
  memoryRunMs: number;
  /** Each contention cell's measured window. */
  contentionMs: number;
}

export function matrixFor(quick: boolean): Matrix {
  return quick
    ? {
        banks: 2,
        concurrencies: [1, 8, 32],
        participantCounts: [2],
        warmupMs: 1000,
        measureMs: 4000,
        rowWarmupMs: 6000,
        recoveryCounts: [1000, 10_000],
        memoryRunMs: 100_000,
        contentionMs: 6000,
      }
    : {
        banks: 8,
        concurrencies: [1, 8, 32, 64],
        participantCounts: [2, 4, 8],
        warmupMs: 2000,
        measureMs: 10_000,
        rowWarmupMs: 10_000,
        recoveryCounts: [1000, 10_000],
        memoryRunMs: 180_000,
        contentionMs: 12_000,
      };
}

/** What a run holds open: runBench's `finally` releases all of it, whatever happened. */
interface Held {
  extras: Extra[];
  pools: Map<string, pg.Pool>;
  clients: KeepAliveJson[];
  redis: Redis | undefined;
}

/** What the sections of a run share once the cluster is up and its accounts are open. */
interface Run {
  o: BenchOptions;
  matrix: Matrix;
  maxConcurrency: number;
  dir: string;
  held: Held;
  ticks: number;
  cluster: ClusterFile;
  /** The administrator's client, which opened the accounts. */
  admin: KeepAliveJson;
  /** Every process whose CPU is measured, and its role; the coordination-only row adds its own. */
  tracked: TrackedProcess[];
  roleByName: Map<string, string>;
  cells: CellResult[];
  /** Rows warmed up already: a row warms up before its first cell only. */
  warmed: Set<RowKind>;
}

/** The second coordinator of the coordination-only row, as CoordinatorControl started it. */
type BenchCoordinator = Awaited<ReturnType<CoordinatorControl["start"]>>;

export async function runBench(o: BenchOptions): Promise<BenchReport> {
  const started = monotonicMs();
  const matrix = matrixFor(o.quick);
  const maxConcurrency = Math.max(...matrix.concurrencies);
  const dir = resolve(o.dir);
  await clearBenchDir(dir);

  const held: Held = { extras: [], pools: new Map(), clients: [], redis: undefined };
  const ticks = clockTicksPerSecond();
  try {
    const run = await startRun(o, { matrix, maxConcurrency, dir, held, ticks });
    if (o.rows.includes("ceiling") || o.rows.includes("floor")) await runLocalRows(run);
    if (o.rows.includes("concord")) await runConcordRow(run);
    const contention = o.contention ? await runContentionSection(run) : undefined;
    const { recovery, memory } = o.rows.includes("coordination")
      ? await runCoordinationRow(run)
      : {};
    return assembleReport(run, started, { recovery, contention, memory });
  } finally {
    await releaseHeld(held, dir);
  }
}

/** A run starts from nothing: a cluster left in the directory is stopped and its data gone. */
async function clearBenchDir(dir: string): Promise<void> {
  await stopCluster(dir);
  removeOutsideData(dir);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(join(dir, "logs"), { recursive: true });
}

/** Starts the cluster, opens one account per worker at every bank, and lists what to measure. */
async function startRun(
  o: BenchOptions,
  base: Pick<Run, "matrix" | "maxConcurrency" | "dir" | "held" | "ticks">,
): Promise<Run> {
  const { matrix, maxConcurrency, dir, held } = base;
  o.log(`starting a ${matrix.banks}-bank cluster in ${dir}`);
  // The default log level (info), as a user runs it: one line per transaction at the coordinator.
  const cluster = await startCluster({ dir, banks: matrix.banks, env: BENCH_ENV });
  const admin = new KeepAliveJson(8);
  held.clients.push(admin);
  await openAccounts(cluster, admin, maxConcurrency);
  o.log(`opened ${maxConcurrency} accounts at each of ${cluster.banks.length} banks`);

  const tracked: TrackedProcess[] = [
    ...cluster.processes.map((p) => ({
      name: p.name,
      role: p.role,
      pid: p.pid,
      withChildren: p.role === "postgres",
    })),
    { name: "bench", role: "bench", pid: process.pid, withChildren: false },
  ];
  const roleByName = new Map(tracked.map((t) => [t.name, t.role]));
  return { ...base, o, cluster, admin, tracked, roleByName, cells: [], warmed: new Set() };
}

/** One row's cells at every concurrency of the matrix, after the row's warm-up the first time. */
async function runRow(
  run: Run,
  row: RowKind,
  participants: number,
  transfer: Transfer,
): Promise<void> {
  const { matrix } = run;
  if (!run.warmed.has(row)) {
    run.warmed.add(row);
    await warmUp(transfer, 8, matrix.rowWarmupMs);
  }
  for (const concurrency of matrix.concurrencies) {
    const cell = await runCell(
      {
        row,
        participants,
        concurrency,
        warmupMs: matrix.warmupMs,
        measureMs: matrix.measureMs,
        maxTransactions: MAX_TRANSACTIONS_PER_CELL,
      },
      transfer,
      () => run.tracked,
      run.ticks,
    );
    run.cells.push(cell);
    run.o.log(
      `  ${row.padEnd(12)} k=${participants} c=${String(concurrency).padStart(2)}: ${cell.tps.toFixed(1).padStart(7)} tx/s  p50 ${cell.latencyMs.p50.toFixed(2)} p95 ${cell.latencyMs.p95.toFixed(2)} p99 ${cell.latencyMs.p99.toFixed(2)} ms  errors ${cell.errors}${cell.firstError ? ` (${cell.firstError.slice(0, 120)})` : ""}`,
    );
  }
}

/** Rows (a) and (b): the first two banks' PostgreSQL driven from this process, without HTTP. */
async function runLocalRows(run: Run): Promise<void> {
  const { o, cluster, held } = run;
  const two = cluster.banks.slice(0, 2).map((b) => b.name);
  for (const bank of cluster.banks.slice(0, 2))
    held.pools.set(
      bank.name,
      new pg.Pool({ connectionString: bank.databaseUrl, max: run.maxConcurrency + 2 }),
    );
  if (o.rows.includes("ceiling")) await runRow(run, "ceiling", 2, ceilingTransfer(held.pools, two));
  if (o.rows.includes("floor")) {
    const redis = new Redis(cluster.coordinator.adminRedisUrl, {
      lazyConnect: true,
      maxRetriesPerRequest: 1,
    });
    held.redis = redis;
    await redis.connect();
    await runRow(
      run,
      "floor",
      2,
      floorTransfer(
        held.pools,
        two,
        new DurableLog(redis, { namespace: "bench", retentionSeconds: 3600 }),
      ),
    );
  }
  // The participants need their own connections for (c): give the servers' slots back.
  await Promise.all([...held.pools.values()].map((p) => p.end()));
  held.pools.clear();
}

/** Row (c): Concord over HTTP, at each participant count. */
async function runConcordRow(run: Run): Promise<void> {
  const { cluster } = run;
  const http = new KeepAliveJson(run.maxConcurrency + 4);
  run.held.clients.push(http);
  for (const k of run.matrix.participantCounts)
    await runRow(
      run,
      "concord",
      k,
      httpTransfer(
        http,
        cluster.coordinator.url,
        cluster.banks.slice(0, k).map((b) => b.name),
        cluster.secrets.apiKey,
      ),
    );
}

/**
 * The contention cells of one load: every concurrency up to 32 at read-committed (the
 * default), then the cost of the stronger levels at concurrency 8 and 32 (docs/isolation.md).
 */
function contentionCells(concurrencies: readonly number[]): [IsolationLevel, number][] {
  const upTo32 = concurrencies.filter((c) => c <= 32);
  const stronger = upTo32.filter((c) => c === 8 || c === 32);
  return [
    ...upTo32.map((c): [IsolationLevel, number] => ["read-committed", c]),
    ...(["repeatable-read", "serializable"] as const).flatMap((level) =>
      stronger.map((c): [IsolationLevel, number] => [level, c]),
    ),
  ];
}

/** The contention section on the real cluster: a hot pair, then Zipf-ranked accounts. */
async function runContentionSection(run: Run): Promise<ContentionResult[]> {
  const { cluster, matrix } = run;
  const banks: [string, string] = [
    cluster.banks[0]?.name ?? "bank-a",
    cluster.banks[1]?.name ?? "bank-b",
  ];
  await openContentionAccounts(cluster, run.admin, banks);
  const http = new KeepAliveJson(run.maxConcurrency + 4);
  run.held.clients.push(http);
  const contention: ContentionResult[] = [];
  for (const load of ["hot-pair", "zipf"] as const) {
    for (const [isolation, concurrency] of contentionCells(matrix.concurrencies)) {
      const r = await runContentionCell({
        http,
        coordinatorUrl: cluster.coordinator.url,
        apiKey: cluster.secrets.apiKey,
        banks,
        load,
        isolation,
        concurrency,
        durationMs: matrix.contentionMs,
        maxTransfers: MAX_TRANSACTIONS_PER_CELL,
      });
      contention.push(r);
      const aborts =
        Object.entries(r.aborts)
          .map(([k, v]) => `${k} ${v}`)
          .join(", ") || "none";
      run.o.log(
        `  ${load.padEnd(9)} ${isolation.padEnd(15)} c=${String(concurrency).padStart(2)}: ${r.committedPerSecond.toFixed(1).padStart(7)} committed/s  ${(r.committedShare * 100).toFixed(1)} % of ${r.sent}  attempts/commit ${r.attemptsPerCommit}  p50 ${r.latencyMs.p50} p99 ${r.latencyMs.p99} ms  aborts: ${aborts}`,
      );
    }
  }
  return contention;
}

/**
 * Row (d): no-op participants behind a second coordinator, so that what is left is the
 * coordinator, its log and HTTP; then, with extras, memory under load and recovery throughput.
 */
async function runCoordinationRow(
  run: Run,
): Promise<{ recovery?: RecoveryResult[]; memory?: MemoryResult }> {
  const { o, cluster, matrix, dir, held } = run;
  const k = Math.max(...matrix.participantCounts);
  const names = cluster.banks.slice(0, k).map((b) => b.name);
  const routes = await startNoopParticipants(
    names,
    dir,
    held.extras,
    cluster.secrets.participantSecrets,
  );
  const control = coordinatorControl(cluster, routes, dir, held.extras);
  const coordinator = await control.start({});
  for (const e of held.extras) {
    run.tracked.push({ name: e.spec.name, role: e.spec.role, pid: e.pid, withChildren: false });
    run.roleByName.set(e.spec.name, e.spec.role);
  }
  o.log(
    `started ${names.length} no-op participants and a second coordinator at ${coordinator.url}`,
  );
  const http = new KeepAliveJson(run.maxConcurrency + 4);
  held.clients.push(http);
  for (const kk of matrix.participantCounts)
    await runRow(
      run,
      "coordination",
      kk,
      httpTransfer(http, coordinator.url, names.slice(0, kk), cluster.secrets.apiKey),
    );
  if (!o.extras) return {};

  held.redis ??= new Redis(cluster.coordinator.adminRedisUrl, {
    lazyConnect: true,
    maxRetriesPerRequest: 1,
  });
  const redis = held.redis;
  if (redis.status === "wait") await redis.connect();
  const target = { http, names, coordinator, redis };
  const memory = await measureMemoryUnderLoad(run, target);
  const recovery = await measureRecoveryThroughput(run, { ...target, control });
  return { recovery, memory };
}

/** Coordination only, 2 participants, concurrency 32, while finished transactions expire. */
async function measureMemoryUnderLoad(
  run: Run,
  t: { http: KeepAliveJson; names: string[]; coordinator: BenchCoordinator; redis: Redis },
): Promise<MemoryResult> {
  const { o, matrix, cluster } = run;
  o.log(
    `memory: coordination only, 2 participants, concurrency 32, for ${matrix.memoryRunMs / 1000} s (archive after ${BENCH_ARCHIVE_AFTER_SECONDS} s, else retention ${BENCH_RETENTION_SECONDS} s)`,
  );
  const memory = await measureMemory({
    transfer: httpTransfer(t.http, t.coordinator.url, t.names.slice(0, 2), cluster.secrets.apiKey),
    concurrency: 32,
    durationMs: matrix.memoryRunMs,
    sampleEveryMs: 5000,
    coordinatorPid: t.coordinator.pid,
    redis: t.redis,
    retentionSeconds: BENCH_RETENTION_SECONDS,
  });
  const first = memory.samples[0];
  const last = memory.samples[memory.samples.length - 1];
  o.log(
    `  coordinator RSS ${first?.coordinatorRssMiB} -> ${last?.coordinatorRssMiB} MiB, Redis ${first?.redisUsedMiB} -> ${last?.redisUsedMiB} MiB after ${last?.transactions} transactions`,
  );
  return memory;
}

/** Kills the second coordinator holding N decided, unacknowledged transactions, for each N. */
async function measureRecoveryThroughput(
  run: Run,
  t: {
    http: KeepAliveJson;
    names: string[];
    coordinator: BenchCoordinator;
    redis: Redis;
    control: CoordinatorControl;
  },
): Promise<RecoveryResult[]> {
  const { o, cluster, matrix } = run;
  // The cluster's own coordinator shares the log: stopped, so that only the restarted one recovers.
  const main = cluster.processes.find((p) => p.role === "coordinator");
  if (main) await stopProcess(main.pid, main.marker, main.stopSignal);
  await t.control.kill(t.coordinator.pid, t.coordinator.spec);
  const log = new DurableLog(t.redis, {
    namespace: "coordinator",
    retentionSeconds: BENCH_RETENTION_SECONDS,
  });
  const recovery: RecoveryResult[] = [];
  for (const n of matrix.recoveryCounts) {
    const r = await measureRecovery(
      n,
      t.names.slice(0, 2),
      t.http,
      cluster.secrets.apiKey,
      log,
      t.control,
    );
    recovery.push(r);
    o.log(
      `  recovery of ${r.unackedAtKill} decided, unacknowledged transactions: ${r.secondsFromSpawn.toFixed(2)} s from restart (${r.secondsFromReady.toFixed(2)} s from ready), ${r.perSecondFromSpawn} tx/s`,
    );
  }
  return recovery;
}

const BENCH_NOTES = [
  "(b) follows the coordinator's order: begin in the decision log, PREPARE at every bank in parallel, decide-once, COMMIT PREPARED in parallel, end; the log is DurableLog in namespace \"bench\" on the coordinator's Redis (AOF, fsync always).",
  "(a) runs the bank's own balance update statement (participant/bank/balance-update.ts), one autocommit statement per bank in parallel; (b) adds the concord_txn row and PREPARE TRANSACTION around it.",
  "Every worker has its own account at every bank, the same for (a), (b) and (c), so no row lock is contended.",
  "PostgreSQL CPU is the postmaster, its live backends and its reaped children; Redis CPU is the server process.",
];

function assembleReport(
  run: Run,
  started: number,
  sections: {
    recovery: RecoveryResult[] | undefined;
    contention: ContentionResult[] | undefined;
    memory: MemoryResult | undefined;
  },
): BenchReport {
  const { recovery, contention, memory } = sections;
  const cpu = cpus();
  return {
    mode: run.o.quick ? "quick" : "full",
    machine: {
      cpus: cpu.length,
      model: cpu[0]?.model ?? "unknown",
      totalMemoryBytes: totalmem(),
      node: process.version,
      platform: `${platform()} ${release()}`,
      date: new Date().toISOString(),
    },
    wallSeconds: (monotonicMs() - started) / 1000,
    clockTicksPerSecond: run.ticks,
    notes: [...BENCH_NOTES],
    cells: run.cells,
    ratios: ratios(run.cells),
    roles: Object.fromEntries(run.roleByName),
    ...(recovery ? { recovery } : {}),
    ...(contention ? { contention } : {}),
    ...(memory ? { memory } : {}),
  };
}

/** Stops everything the run started, the cluster last. */
async function releaseHeld(held: Held, dir: string): Promise<void> {
  for (const c of held.clients) c.close();
  await Promise.all([...held.pools.values()].map((p) => p.end().catch(() => undefined)));
  if (held.redis) held.redis.disconnect();
  await Promise.all(held.extras.map((e) => stopProcess(e.pid, e.spec.marker, e.spec.stopSignal)));
  await stopCluster(dir);
}

/** The contention section's accounts at both banks: the hot one and the Zipf-ranked ones, each with plenty. */
async function openContentionAccounts(
  cluster: ClusterFile,
  http: KeepAliveJson,
  banks: readonly string[],
): Promise<void> {
  const ids = [HOT_ACCOUNT, ...Array.from({ length: ZIPF_ACCOUNTS }, (_, i) => zipfAccount(i))];
  await Promise.all(
    banks.map(async (bank) => {
      const entry = cluster.banks.find((b) => b.name === bank);
      if (!entry) throw new Error(`no bank ${bank}`);
      const auth = { authorization: `Bearer ${adminSecretOf(cluster, bank)}` };
      for (const id of ids) {
        const res = await http.post(
          `${entry.participantUrl}/v1/accounts`,
          { id, balance: OPENING_BALANCE },
          auth,
        );
        if (res.status !== 201)
          throw new Error(`opening ${bank}/${id}: ${res.status} ${JSON.stringify(res.body)}`);
      }
    }),
  );
}

async function openAccounts(
  cluster: ClusterFile,
  http: KeepAliveJson,
  perBank: number,
): Promise<void> {
  await Promise.all(
    cluster.banks.map(async (bank) => {
      const auth = { authorization: `Bearer ${adminSecretOf(cluster, bank.name)}` };
      for (let w = 0; w < perBank; w++) {
        const res = await http.post(
          `${bank.participantUrl}/v1/accounts`,
          { id: accountOf(w), balance: OPENING_BALANCE },
          auth,
        );
        if (res.status !== 201)
          throw new Error(
            `opening ${bank.name}/${accountOf(w)}: ${res.status} ${JSON.stringify(res.body)}`,
          );
      }
    }),
  );
}
