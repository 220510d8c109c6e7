/**
 * A chaos run: start a cluster with a fault-injecting proxy in front of every participant,
 * run transfers and consistent reads, inject the seed's fault schedule, heal everything, wait
 * for recovery, and check every invariant.
 */
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import axios from "axios";
import { monotonicMs, sleep } from "../../shared/clock.js";
import { checkInvariants, type Report } from "../checker/invariants.js";
import { gatherFacts } from "../checker/gather.js";
import type { ClientEntry } from "../checker/facts.js";
import { disarmAllFailpoints } from "../cluster/admin-client.js";
import { restartProcess, startCluster, stopCluster } from "../cluster/cluster.js";
import { adminSecretOf, readClusterFile, type ClusterFile } from "../cluster/cluster-file.js";
import { routeCoordinatorThrough } from "../cluster/directory-files.js";
import { removeOutsideData } from "../cluster/postgres.js";
import { isOurProcess, stopProcess } from "../cluster/processes.js";
import { FaultExecutor } from "./fault-executor.js";
import { FaultProxy } from "./fault-proxy.js";
import { seededRandom } from "./prng.js";
import { describeShop, stockShop } from "./orders.js";
import { chaosMarkdown, outcomesLine, type ChaosReport } from "./report.js";
import { describeFault, drawSchedule, type Fault, type FaultKind } from "./schedule.js";
import { Workload, type Account } from "./workload.js";

export interface ChaosOptions {
  seed: number;
  durationSeconds: number;
  faultKinds: FaultKind[];
  banks: number;
  /** Inventory participants besides the banks (default none): their own invariants are checked too. */
  inventory?: number;
  concurrency: number;
  dir: string;
  keepRunning: boolean;
  log: (line: string) => void;
}

const CHAOS_ENV = {
  CONCORD_ADMIN_ENDPOINTS: "true",
  CONCORD_RECOVERY_INTERVAL_MS: "500",
  CONCORD_RECOVERY_MIN_AGE_MS: "2000",
};
const ACCOUNTS_PER_BANK = 6;
const OPENING_BALANCE = 10_000n;
const RECOVERY_BOUND_MS = 120_000;

export async function runChaos(o: ChaosOptions): Promise<ChaosReport> {
  const dir = resolve(o.dir);
  await clearRunDir(dir);

  const inventory = o.inventory ?? 0;
  o.log(`starting a cluster of ${o.banks} banks and ${inventory} inventory in ${dir}`);
  const cluster = await startCluster({ dir, banks: o.banks, inventory, env: CHAOS_ENV });
  const proxies = await putProxiesInFront(cluster);
  const accounts = await openAccounts(cluster);
  const shop = await stockShop(cluster);
  const expectedTotal = OPENING_BALANCE * BigInt(accounts.length);
  const schedule = drawLoggedSchedule(o, cluster);

  const workload = new Workload(
    cluster.coordinator.url,
    cluster.secrets.apiKey,
    adminSecretOf(cluster, "coordinator"),
    accounts,
    expectedTotal,
    seededRandom(o.seed ^ 0x5eed),
    o.concurrency,
    shop,
  );
  const executor = new FaultExecutor(dir, proxies);
  const started = monotonicMs();
  workload.start();
  const { faults, unexpectedExits } = await applySchedule(schedule, executor, dir, started, o.log);
  const remaining = o.durationSeconds * 1000 - (monotonicMs() - started);
  if (remaining > 0) await sleep(remaining);
  for (const name of await restartUnexpectedlyDead(dir))
    unexpectedExits.push(`${name} (found dead at the end)`);
  const traffic = await workload.stop();
  o.log(`workload stopped: transfers ${outcomesLine(traffic.transfers)}`);
  if (traffic.orders) o.log(`  orders ${outcomesLine(traffic.orders)}`);

  o.log("healing: every process running, no failpoint armed, the network whole");
  await heal(dir, o.banks, proxies);
  const healedAt = monotonicMs();
  const { checker, recovered } = await waitForRecovery(
    readClusterFile(dir) as ClusterFile,
    traffic.record,
  );
  const recoverySeconds = recovered ? (monotonicMs() - healedAt) / 1000 : null;

  const report: ChaosReport = {
    ok: checker.ok && traffic.reads.violations.length === 0 && unexpectedExits.length === 0,
    seed: o.seed,
    durationSeconds: o.durationSeconds,
    faultKinds: o.faultKinds,
    faults,
    faultsInjected: countBy(schedule.map((f) => f.kind)),
    transfers: traffic.transfers,
    ...(shop ? { orders: traffic.orders, shop: describeShop(shop) } : {}),
    consistentReads: traffic.reads,
    recoverySeconds,
    unexpectedExits,
    checker,
  };
  writeRunFiles(dir, report, traffic.record);
  // A cluster kept running reaches its participants directly again once the proxies are gone.
  routeCoordinatorThrough(dir, undefined);
  await Promise.all([...proxies.values()].map((p) => p.stop()));
  if (!o.keepRunning) await stopCluster(dir);
  return report;
}

/** Every run starts from nothing: a cluster left in the directory is stopped and its data gone. */
async function clearRunDir(dir: string): Promise<void> {
  await stopCluster(dir);
  removeOutsideData(dir);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
}

/** The seed's fault schedule, logged in full before it starts so a run can be read beside it. */
function drawLoggedSchedule(o: ChaosOptions, cluster: ClusterFile): Fault[] {
  const schedule = drawSchedule({
    seed: o.seed,
    durationMs: o.durationSeconds * 1000,
    kinds: o.faultKinds,
    topology: { participants: cluster.participants },
  });
  o.log(`fault schedule of seed ${o.seed}: ${schedule.length} faults`);
  for (const f of schedule)
    o.log(`  ${(f.atMs / 1000).toFixed(1).padStart(6)} s  ${describeFault(f)}`);
  return schedule;
}

/** Applies each fault at its time, restarting (and noting) any process found dead in between. */
async function applySchedule(
  schedule: readonly Fault[],
  executor: FaultExecutor,
  dir: string,
  started: number,
  log: (line: string) => void,
): Promise<{ faults: ChaosReport["faults"]; unexpectedExits: string[] }> {
  const faults: ChaosReport["faults"] = [];
  const unexpectedExits: string[] = [];
  for (const fault of schedule) {
    const wait = fault.atMs - (monotonicMs() - started);
    if (wait > 0) await sleep(wait);
    // Between faults everything the schedule touched has been restarted: a dead process now
    // died on its own, which is a bug to report (it is restarted so the run stays meaningful).
    for (const name of await restartUnexpectedlyDead(dir)) {
      const at = ((monotonicMs() - started) / 1000).toFixed(1);
      unexpectedExits.push(`${name} (found dead at ${at} s)`);
      log(`  UNEXPECTED: ${name} exited on its own; restarted`);
    }
    const startedAtMs = monotonicMs() - started;
    const result = await executor
      .apply(fault)
      .catch((err: unknown) => `failed to apply: ${(err as Error).message}`);
    log(`  ${(startedAtMs / 1000).toFixed(1).padStart(6)} s  ${describeFault(fault)}: ${result}`);
    faults.push({ atMs: fault.atMs, startedAtMs, description: describeFault(fault), result });
  }
  return { faults, unexpectedExits };
}

function writeRunFiles(dir: string, report: ChaosReport, record: readonly ClientEntry[]): void {
  writeFileSync(join(dir, "chaos-report.json"), `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(join(dir, "chaos-report.md"), chaosMarkdown(report));
  writeFileSync(
    join(dir, "client-record.jsonl"),
    record.map((e) => JSON.stringify(e)).join("\n") + "\n",
  );
}

/**
 * The coordinator reaches each participant through a proxy the runner controls: the proxies'
 * URLs go into its participants file (recorded in cluster.json, so every restart of the run keeps
 * them), and it is restarted so it reads them before the first transaction. Peers still reach
 * each other directly.
 */
async function putProxiesInFront(cluster: ClusterFile): Promise<Map<string, FaultProxy>> {
  const proxies = new Map<string, FaultProxy>();
  const routes: Record<string, string> = {};
  for (const participant of cluster.participants) {
    const proxy = new FaultProxy({
      targetHost: "127.0.0.1",
      targetPort: Number(new URL(participant.participantUrl).port),
    });
    routes[participant.name] = `http://127.0.0.1:${await proxy.start()}`;
    proxies.set(participant.name, proxy);
  }
  routeCoordinatorThrough(cluster.dir, routes);
  const coordinator = cluster.processes.find((p) => p.name === "coordinator");
  if (coordinator) await stopProcess(coordinator.pid, coordinator.marker, "SIGTERM");
  await restartProcess(cluster.dir, "coordinator");
  return proxies;
}

async function openAccounts(cluster: ClusterFile): Promise<Account[]> {
  const accounts: Account[] = [];
  for (const bank of cluster.banks) {
    for (let i = 0; i < ACCOUNTS_PER_BANK; i++) {
      const id = `acct-${i}`;
      const res = await axios.post(
        `${bank.participantUrl}/v1/accounts`,
        { id, balance: OPENING_BALANCE.toString() },
        {
          headers: { authorization: `Bearer ${adminSecretOf(cluster, bank.name)}` },
          validateStatus: () => true,
        },
      );
      if (res.status !== 201)
        throw new Error(`opening ${bank.name}/${id}: ${res.status} ${JSON.stringify(res.data)}`);
      accounts.push({ bank: bank.name, id });
    }
  }
  return accounts;
}

async function heal(dir: string, banks: number, proxies: Map<string, FaultProxy>): Promise<void> {
  for (const proxy of proxies.values()) await proxy.setMode({ kind: "pass" });
  const file = readClusterFile(dir);
  for (const p of file?.processes ?? []) {
    try {
      process.kill(p.pid, "SIGCONT");
    } catch {
      /* not running: restarted below */
    }
  }
  await disarmAllFailpoints(await startCluster({ dir, banks, env: CHAOS_ENV }));
}

/**
 * Polls the checker until nothing is left in flight (I6), bounded; returns the last report, which
 * holds every participant's application checks and I7 besides I1–I6 (gatherFacts asks for them).
 */
async function waitForRecovery(
  cluster: ClusterFile,
  record: ClientEntry[],
): Promise<{ checker: Report; recovered: boolean }> {
  const until = monotonicMs() + RECOVERY_BOUND_MS;
  for (;;) {
    const checker = checkInvariants(await gatherFacts(cluster, record));
    const liveness = checker.invariants.find((i) => i.id === "I6");
    if (liveness?.ok) return { checker, recovered: true };
    if (monotonicMs() > until) return { checker, recovered: false };
    await sleep(500);
  }
}

async function restartUnexpectedlyDead(dir: string): Promise<string[]> {
  const dead = (readClusterFile(dir)?.processes ?? [])
    .filter((p) => !isOurProcess(p.pid, p.marker))
    .map((p) => p.name);
  for (const name of dead) await restartProcess(dir, name);
  return dead;
}

function countBy(items: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const i of items) out[i] = (out[i] ?? 0) + 1;
  return out;
}
