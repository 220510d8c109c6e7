/**
 * `npm run bench -- --memory-million`: Redis memory over a million transactions with the archive
 * on. Coordination only (no-op participants behind a coordinator of its own, as in the full
 * bench's memory run), finished transactions moving to PostgreSQL after a short window; Redis's
 * used_memory is sampled throughout and should stay flat once the window has filled. Before the
 * load, Redis bytes per in-flight transaction are measured (inflight-memory.ts).
 */
import { mkdirSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";
import { Redis } from "ioredis";
import pg from "pg";
import { monotonicMs } from "../../shared/clock.js";
import { startCluster, stopCluster } from "../cluster/cluster.js";
import { removeOutsideData } from "../cluster/postgres.js";
import { stopProcess } from "../cluster/processes.js";
import { httpTransfer } from "./drivers.js";
import { coordinatorControl, startNoopParticipants, type Extra } from "./extra-processes.js";
import { KeepAliveJson } from "./http-json.js";
import { measureInFlightMemory, type InFlightMemory } from "./inflight-memory.js";
import { measureMemory, type MemorySample } from "./memory.js";
import { BENCH_ENV } from "./runner.js";

export interface MemoryMillionOptions {
  dir: string;
  transactions: number;
  concurrency: number;
  archiveAfterSeconds: number;
  log: (line: string) => void;
}

export interface MemoryMillionReport {
  kind: "memory-million";
  startedAt: string;
  wallSeconds: number;
  transactions: number;
  concurrency: number;
  archiveAfterSeconds: number;
  transactionsPerSecond: number;
  redisUsedMiB: { start: number; peak: number; end: number };
  /** Least-squares growth of used_memory per transaction over the second half of the run. */
  slopeBytesPerTransaction: number;
  archivedRows: number;
  inFlight: InFlightMemory;
  samples: MemorySample[];
}

export async function runMemoryMillion(o: MemoryMillionOptions): Promise<MemoryMillionReport> {
  const started = monotonicMs();
  const startedAt = new Date().toISOString();
  const dir = resolve(o.dir);
  await stopCluster(dir);
  removeOutsideData(dir);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(join(dir, "logs"), { recursive: true });
  const extras: Extra[] = [];
  const http = new KeepAliveJson(o.concurrency + 4);
  let redis: Redis | undefined;
  try {
    const { cluster, coordinator, names } = await startProcesses(o, dir, extras);
    redis = new Redis(cluster.coordinator.adminRedisUrl, { maxRetriesPerRequest: 1 });
    const inFlight = await measureInFlightMemory(redis, 20_000);
    o.log(
      `in flight: ${inFlight.bytesPerPreparing} B preparing, ${inFlight.bytesPerCommitting} B committing, ${inFlight.bytesPerFinished} B finished (in the window), per transaction`,
    );
    o.log(`running ${o.transactions} transactions at concurrency ${o.concurrency}`);
    const runStarted = monotonicMs();
    const memory = await measureMemory({
      transfer: httpTransfer(http, coordinator.url, names, cluster.secrets.apiKey),
      concurrency: o.concurrency,
      durationMs: 6 * 3600_000,
      sampleEveryMs: 5000,
      coordinatorPid: coordinator.pid,
      redis,
      retentionSeconds: 60,
      maxTransactions: o.transactions,
      stop: stopEarly(o.log),
      onSample: (s) => {
        o.log(
          `  ${s.seconds} s: ${s.transactions} transactions, Redis ${s.redisUsedMiB} MiB, ${s.redisKeys} keys, coordinator RSS ${s.coordinatorRssMiB} MiB`,
        );
      },
    });
    const runSeconds = (monotonicMs() - runStarted) / 1000;
    const archivedRows = await countArchived(cluster.coordinator.adminArchiveDatabaseUrl);
    const samples = memory.samples;
    const used = samples.map((s) => s.redisUsedMiB);
    const done = samples.at(-1)?.transactions ?? 0;
    return {
      kind: "memory-million",
      startedAt,
      wallSeconds: Math.round((monotonicMs() - started) / 1000),
      transactions: done,
      concurrency: o.concurrency,
      archiveAfterSeconds: o.archiveAfterSeconds,
      transactionsPerSecond: Math.round(done / runSeconds),
      redisUsedMiB: { start: used[0] ?? NaN, peak: Math.max(...used), end: used.at(-1) ?? NaN },
      slopeBytesPerTransaction: slope(samples.filter((s) => s.transactions >= done / 2)),
      archivedRows,
      inFlight,
      samples,
    };
  } finally {
    http.close();
    redis?.disconnect();
    await Promise.all(extras.map((e) => stopProcess(e.pid, e.spec.marker, e.spec.stopSignal)));
    await stopCluster(dir);
  }
}

/**
 * A 2-bank cluster whose own coordinator is stopped, and no-op participants behind a coordinator
 * of the bench's, which alone archives (with the window asked for) and is measured.
 */
async function startProcesses(o: MemoryMillionOptions, dir: string, extras: Extra[]) {
  const window = String(o.archiveAfterSeconds);
  o.log(`starting a 2-bank cluster in ${dir} (archive after ${window} s)`);
  const env = { ...BENCH_ENV, CONCORD_ARCHIVE_AFTER_SECONDS: window };
  const cluster = await startCluster({ dir, banks: 2, env });
  const main = cluster.processes.find((p) => p.role === "coordinator");
  if (main) await stopProcess(main.pid, main.marker, main.stopSignal);
  const names = cluster.banks.map((b) => b.name);
  const routes = await startNoopParticipants(
    names,
    dir,
    extras,
    cluster.secrets.participantSecrets,
  );
  const coordinator = await coordinatorControl(cluster, routes, dir, extras).start({
    ...env,
    // One log line per transaction would be a million lines: warnings only.
    CONCORD_LOG_LEVEL: "warn",
  });
  return { cluster, coordinator, names };
}

/** SIGUSR2 ends the run early: what ran so far is measured and written as usual. */
function stopEarly(log: (line: string) => void): AbortSignal {
  const stop = new AbortController();
  process.once("SIGUSR2", () => {
    log("SIGUSR2: finishing with the transactions run so far");
    stop.abort();
  });
  return stop.signal;
}

async function countArchived(url: string | undefined): Promise<number> {
  if (!url) return 0;
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const r = await client.query<{ n: string }>("SELECT count(*) AS n FROM archived_transactions");
    return Number(r.rows[0]?.n ?? 0);
  } finally {
    await client.end();
  }
}

/** Bytes of used_memory per transaction, least squares over the samples given. */
function slope(samples: MemorySample[]): number {
  const n = samples.length;
  if (n < 2) return NaN;
  const xs = samples.map((s) => s.transactions);
  const ys = samples.map((s) => s.redisUsedMiB * 2 ** 20);
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += ((xs[i] as number) - mx) * ((ys[i] as number) - my);
    den += ((xs[i] as number) - mx) ** 2;
  }
  return den === 0 ? NaN : Math.round((num / den) * 1000) / 1000;
}

export function memoryMillionMarkdown(r: MemoryMillionReport): string {
  const f = r.inFlight;
  return [
    `# Redis memory over ${r.transactions.toLocaleString("en-US")} transactions, archive on`,
    "",
    `Run ${r.startedAt}, ${r.wallSeconds} s in all. Coordination only (no-op participants, 2 per transaction), concurrency ${r.concurrency}, ${r.transactionsPerSecond} tx/s; finished transactions moved to PostgreSQL after ${r.archiveAfterSeconds} s.`,
    "",
    "| Redis used_memory | MiB |",
    "| --- | ---: |",
    `| start | ${r.redisUsedMiB.start} |`,
    `| peak | ${r.redisUsedMiB.peak} |`,
    `| end | ${r.redisUsedMiB.end} |`,
    "",
    `Slope over the second half of the run: ${r.slopeBytesPerTransaction} bytes per transaction (flat: about 0). Archived rows at the end: ${r.archivedRows.toLocaleString("en-US")}.`,
    "",
    `Redis bytes per transaction (${f.transactions.toLocaleString("en-US")} written with the log's scripts, ${f.participants} participants): ${f.bytesPerPreparing} preparing, ${f.bytesPerCommitting} committing (in flight), ${f.bytesPerFinished} finished (kept for the window). Redis for a load: in-flight count x ${f.bytesPerCommitting} B + rate x window x ${f.bytesPerFinished} B.`,
    "",
    "| s | transactions | Redis MiB | keys | coordinator RSS MiB |",
    "| ---: | ---: | ---: | ---: | ---: |",
    ...r.samples.map(
      (s) =>
        `| ${s.seconds} | ${s.transactions} | ${s.redisUsedMiB} | ${s.redisKeys} | ${s.coordinatorRssMiB} |`,
    ),
    "",
  ].join("\n");
}
