/**
 * A benchmark run: start a private cluster, open one account per worker at every bank, and run
 * the matrix of rows × participant counts × concurrencies on that same data, measuring throughput,
 * latency and CPU per process. Everything started here is stopped in `finally`.
 */
import { mkdirSync, rmSync } from "node:fs";
import { cpus, platform, release, totalmem } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { Redis } from "ioredis";
import pg from "pg";
import { monotonicMs } from "../../shared/clock.js";
import { DurableLog } from "../../shared/durable-log.js";
import { startCluster, stopCluster } from "../cluster/cluster.js";
import { adminSecretOf, type ClusterFile } from "../cluster/cluster-file.js";
import { removeOutsideData } from "../cluster/postgres.js";
import {
  freePort,
  isOurProcess,
  spawnDetached,
  stopProcess,
  waitUntil,
  type ProcessSpec,
} from "../cluster/processes.js";
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

const DIST = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
/**
 * The benchmark is one client pushing as hard as it can: the per-client limits, which exist to
 * keep one client from starving others, would measure themselves instead of Concord.
 */
const BENCH_ENV: Record<string, string> = {
  CONCORD_CLIENT_MAX_IN_FLIGHT: "100000",
  CONCORD_CLIENT_MAX_HELD_MS: "86400000",
  CONCORD_CLIENT_RATE_PER_SECOND: "1000000",
  CONCORD_CLIENT_RATE_BURST: "1000000",
};

export const DEFAULT_BENCH_DIR = ".concord/bench";
const OPENING_BALANCE = "1000000000000";
const MAX_TRANSACTIONS_PER_CELL = 200_000;
const START_TIMEOUT_MS = 30_000;

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

/** Processes this run started outside the cluster (no-op participants, a second coordinator). */
interface Extra {
  spec: ProcessSpec;
  pid: number;
}

export async function runBench(o: BenchOptions): Promise<BenchReport> {
  const started = monotonicMs();
  const matrix = matrixFor(o.quick);
  const maxConcurrency = Math.max(...matrix.concurrencies);
  const dir = resolve(o.dir);
  await stopCluster(dir);
  removeOutsideData(dir);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(join(dir, "logs"), { recursive: true });

  const extras: Extra[] = [];
  const cells: CellResult[] = [];
  const notes: string[] = [];
  const ticks = clockTicksPerSecond();
  let redis: Redis | undefined;
  const pools = new Map<string, pg.Pool>();
  const clients: KeepAliveJson[] = [];
  try {
    o.log(`starting a ${matrix.banks}-bank cluster in ${dir}`);
    // The default log level (info), as a user runs it: one line per transaction at the coordinator.
    const cluster = await startCluster({ dir, banks: matrix.banks, env: BENCH_ENV });
    const admin = new KeepAliveJson(8);
    clients.push(admin);
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
    const warmed = new Set<RowKind>();
    const run = async (row: RowKind, participants: number, transfer: Transfer) => {
      if (!warmed.has(row)) {
        warmed.add(row);
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
          () => tracked,
          ticks,
        );
        cells.push(cell);
        o.log(
          `  ${row.padEnd(12)} k=${participants} c=${String(concurrency).padStart(2)}: ${cell.tps.toFixed(1).padStart(7)} tx/s  p50 ${cell.latencyMs.p50.toFixed(2)} p95 ${cell.latencyMs.p95.toFixed(2)} p99 ${cell.latencyMs.p99.toFixed(2)} ms  errors ${cell.errors}${cell.firstError ? ` (${cell.firstError.slice(0, 120)})` : ""}`,
        );
      }
    };
    const two = cluster.banks.slice(0, 2).map((b) => b.name);

    if (o.rows.includes("ceiling") || o.rows.includes("floor")) {
      for (const bank of cluster.banks.slice(0, 2))
        pools.set(
          bank.name,
          new pg.Pool({ connectionString: bank.databaseUrl, max: maxConcurrency + 2 }),
        );
      if (o.rows.includes("ceiling")) await run("ceiling", 2, ceilingTransfer(pools, two));
      if (o.rows.includes("floor")) {
        redis = new Redis(cluster.coordinator.adminRedisUrl, {
          lazyConnect: true,
          maxRetriesPerRequest: 1,
        });
        await redis.connect();
        await run(
          "floor",
          2,
          floorTransfer(
            pools,
            two,
            new DurableLog(redis, { namespace: "bench", retentionSeconds: 3600 }),
          ),
        );
      }
      // The participants need their own connections for (c): give the servers' slots back.
      await Promise.all([...pools.values()].map((p) => p.end()));
      pools.clear();
    }

    if (o.rows.includes("concord")) {
      const http = new KeepAliveJson(maxConcurrency + 4);
      clients.push(http);
      for (const k of matrix.participantCounts)
        await run(
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

    let contention: ContentionResult[] | undefined;
    if (o.contention) {
      const banks: [string, string] = [
        cluster.banks[0]?.name ?? "bank-a",
        cluster.banks[1]?.name ?? "bank-b",
      ];
      await openContentionAccounts(cluster, admin, banks);
      const http = new KeepAliveJson(maxConcurrency + 4);
      clients.push(http);
      contention = [];
      for (const load of ["hot-pair", "zipf"] as const) {
        for (const concurrency of matrix.concurrencies.filter((c) => c <= 32)) {
          const r = await runContentionCell({
            http,
            coordinatorUrl: cluster.coordinator.url,
            apiKey: cluster.secrets.apiKey,
            banks,
            load,
            concurrency,
            durationMs: matrix.contentionMs,
            maxTransfers: MAX_TRANSACTIONS_PER_CELL,
          });
          contention.push(r);
          const aborts =
            Object.entries(r.aborts)
              .map(([k, v]) => `${k} ${v}`)
              .join(", ") || "none";
          o.log(
            `  ${load.padEnd(12)} c=${String(concurrency).padStart(2)}: ${r.committedPerSecond.toFixed(1).padStart(7)} committed/s  ${(r.committedShare * 100).toFixed(1)} % of ${r.sent}  attempts/commit ${r.attemptsPerCommit}  p50 ${r.latencyMs.p50} p99 ${r.latencyMs.p99} ms  aborts: ${aborts}`,
          );
        }
      }
    }

    let recovery: RecoveryResult[] | undefined;
    let memory: MemoryResult | undefined;
    if (o.rows.includes("coordination")) {
      const k = Math.max(...matrix.participantCounts);
      const names = cluster.banks.slice(0, k).map((b) => b.name);
      const routes = await startNoopParticipants(
        names,
        dir,
        extras,
        cluster.secrets.participantSecrets,
      );
      const control = coordinatorControl(cluster, routes, dir, extras);
      const coordinator = await control.start({});
      for (const e of extras) {
        tracked.push({ name: e.spec.name, role: e.spec.role, pid: e.pid, withChildren: false });
        roleByName.set(e.spec.name, e.spec.role);
      }
      o.log(
        `started ${names.length} no-op participants and a second coordinator at ${coordinator.url}`,
      );
      const http = new KeepAliveJson(maxConcurrency + 4);
      clients.push(http);
      for (const kk of matrix.participantCounts)
        await run(
          "coordination",
          kk,
          httpTransfer(http, coordinator.url, names.slice(0, kk), cluster.secrets.apiKey),
        );

      if (o.extras) {
        redis ??= new Redis(cluster.coordinator.adminRedisUrl, {
          lazyConnect: true,
          maxRetriesPerRequest: 1,
        });
        if (redis.status === "wait") await redis.connect();
        o.log(
          `memory: coordination only, 2 participants, concurrency 32, for ${matrix.memoryRunMs / 1000} s (retention ${BENCH_RETENTION_SECONDS} s)`,
        );
        memory = await measureMemory({
          transfer: httpTransfer(http, coordinator.url, names.slice(0, 2), cluster.secrets.apiKey),
          concurrency: 32,
          durationMs: matrix.memoryRunMs,
          sampleEveryMs: 5000,
          coordinatorPid: coordinator.pid,
          redis,
          retentionSeconds: BENCH_RETENTION_SECONDS,
        });
        const first = memory.samples[0];
        const last = memory.samples[memory.samples.length - 1];
        o.log(
          `  coordinator RSS ${first?.coordinatorRssMiB} -> ${last?.coordinatorRssMiB} MiB, Redis ${first?.redisUsedMiB} -> ${last?.redisUsedMiB} MiB after ${last?.transactions} transactions`,
        );

        // The cluster's own coordinator shares the log: stopped, so that only the restarted one recovers.
        const main = cluster.processes.find((p) => p.role === "coordinator");
        if (main) await stopProcess(main.pid, main.marker, main.stopSignal);
        await control.kill(coordinator.pid, coordinator.spec);
        const log = new DurableLog(redis, {
          namespace: "coordinator",
          retentionSeconds: BENCH_RETENTION_SECONDS,
        });
        recovery = [];
        for (const n of matrix.recoveryCounts) {
          const r = await measureRecovery(
            n,
            names.slice(0, 2),
            http,
            cluster.secrets.apiKey,
            log,
            control,
          );
          recovery.push(r);
          o.log(
            `  recovery of ${r.unackedAtKill} decided, unacknowledged transactions: ${r.secondsFromSpawn.toFixed(2)} s from restart (${r.secondsFromReady.toFixed(2)} s from ready), ${r.perSecondFromSpawn} tx/s`,
          );
        }
      }
    }

    notes.push(
      "(b) follows the coordinator's order: begin in the decision log, PREPARE at every bank in parallel, decide-once, COMMIT PREPARED in parallel, end; the log is DurableLog in namespace \"bench\" on the coordinator's Redis (AOF, fsync always).",
      "(a) runs the bank's own balance update statement (participant/bank/balance-update.ts), one autocommit statement per bank in parallel; (b) adds the concord_txn row and PREPARE TRANSACTION around it.",
      "Every worker has its own account at every bank, the same for (a), (b) and (c), so no row lock is contended.",
      "PostgreSQL CPU is the postmaster, its live backends and its reaped children; Redis CPU is the server process.",
    );
    const cpu = cpus();
    return {
      mode: o.quick ? "quick" : "full",
      machine: {
        cpus: cpu.length,
        model: cpu[0]?.model ?? "unknown",
        totalMemoryBytes: totalmem(),
        node: process.version,
        platform: `${platform()} ${release()}`,
        date: new Date().toISOString(),
      },
      wallSeconds: (monotonicMs() - started) / 1000,
      clockTicksPerSecond: ticks,
      notes,
      cells,
      ratios: ratios(cells),
      roles: Object.fromEntries(roleByName),
      ...(recovery ? { recovery } : {}),
      ...(contention ? { contention } : {}),
      ...(memory ? { memory } : {}),
    };
  } finally {
    for (const c of clients) c.close();
    await Promise.all([...pools.values()].map((p) => p.end().catch(() => undefined)));
    if (redis) redis.disconnect();
    await Promise.all(extras.map((e) => stopProcess(e.pid, e.spec.marker, e.spec.stopSignal)));
    await stopCluster(dir);
  }
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

/** Finished transactions of the coordination-only coordinator expire after this (the minimum). */
const BENCH_RETENTION_SECONDS = 60;

/** Starts one no-op participant per name, each its own node process; returns name=url routes. */
async function startNoopParticipants(
  names: string[],
  dir: string,
  extras: Extra[],
  secrets: Record<string, string>,
): Promise<string> {
  const routes: string[] = [];
  const starts: Promise<unknown>[] = [];
  for (const name of names) {
    const port = await freePort();
    const script = join(DIST, "scripts", "bench", "noop-participant.js");
    const spec: ProcessSpec = {
      name: `noop-${name}`,
      role: "participant",
      command: process.execPath,
      args: [script, "--name", name, "--port", String(port)],
      // It checks the coordinator's signatures as a real participant does: that cost is part of (d).
      env: { CONCORD_PARTICIPANT_SECRET: secrets[name] ?? "" },
      port,
      url: `http://127.0.0.1:${port}`,
      log: join(dir, "logs", `noop-${name}.log`),
      marker: `noop-participant.js --name ${name} --port ${port}`,
      stopSignal: "SIGTERM",
    };
    starts.push(startAndWait(spec, extras));
    routes.push(`${name}=${spec.url}`);
  }
  await Promise.all(starts);
  return routes.join(",");
}

/**
 * A second coordinator that knows only the no-op participants, on the cluster's decision-log
 * Redis, started (on one port, so restarts keep its URL) and killed at will.
 */
function coordinatorControl(
  cluster: ClusterFile,
  routes: string,
  dir: string,
  extras: Extra[],
): CoordinatorControl {
  const main = cluster.processes.find((p) => p.role === "coordinator");
  if (!main) throw new Error("the cluster has no coordinator entry in cluster.json");
  let port: number | undefined;
  return {
    start: async (env) => {
      port ??= await freePort();
      const spec: ProcessSpec = {
        name: "bench-coordinator",
        role: "coordinator",
        command: process.execPath,
        args: [
          join(DIST, "coordinator", "main.js"),
          "--concord-name=bench-coordinator",
          `--concord-dir=${dir}`,
        ],
        env: {
          ...main.env,
          CONCORD_PORT: String(port),
          CONCORD_PARTICIPANTS: routes,
          CONCORD_RETENTION_SECONDS: String(BENCH_RETENTION_SECONDS),
          ...env,
        },
        port,
        url: `http://127.0.0.1:${port}`,
        log: join(dir, "logs", "bench-coordinator.log"),
        marker: `--concord-name=bench-coordinator --concord-dir=${dir}`,
        stopSignal: "SIGTERM",
      };
      const spawnedAtMs = monotonicMs();
      const pid = await startAndWait(spec, extras);
      return { url: spec.url as string, spec, pid, spawnedAtMs, readyAtMs: monotonicMs() };
    },
    kill: async (pid, spec) => {
      await stopProcess(pid, spec.marker, "SIGKILL", 5000);
      const i = extras.findIndex((e) => e.pid === pid);
      if (i >= 0) extras.splice(i, 1);
    },
  };
}

async function startAndWait(spec: ProcessSpec, extras: Extra[]): Promise<number> {
  const pid = spawnDetached(spec);
  // Recorded before waiting, so `finally` stops it even when it never becomes ready.
  extras.push({ spec, pid });
  await waitUntil(
    spec.name,
    async () => {
      const res = await fetch(`${spec.url}/healthz`, { signal: AbortSignal.timeout(1000) });
      await res.arrayBuffer();
      return res.status === 200;
    },
    { timeoutMs: START_TIMEOUT_MS, alive: () => isOurProcess(pid, spec.marker), log: spec.log },
  );
  return pid;
}
