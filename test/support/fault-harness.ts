/**
 * A cluster of its own for the fault tests (they kill its processes), with the admin API on
 * and short recovery intervals, plus the moves the tests make: arm a failpoint, kill, pause,
 * restart, wait for rest, and run the checker.
 */
import { expect } from "chai";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sleep } from "../../shared/clock.js";
import type { FailpointCounts, FailpointSpec } from "../../shared/failpoints.js";
import { checkInvariants, type Report } from "../../scripts/checker/invariants.js";
import { formatText } from "../../scripts/checker/report-format.js";
import { gatherFacts } from "../../scripts/checker/gather.js";
import type { ClientEntry } from "../../scripts/checker/facts.js";
import { restartProcess, startCluster, stopCluster } from "../../scripts/cluster/cluster.js";
import {
  adminSecretOf,
  readClusterFile,
  type ClusterFile,
  type ProcessEntry,
} from "../../scripts/cluster/cluster-file.js";
import { http, registerCluster } from "./bank-client.js";
import { isOurProcess, spawnDetached } from "../../scripts/cluster/processes.js";
import { removeOutsideData } from "../../scripts/cluster/postgres.js";
import { armFailpoint, disarmAllFailpoints } from "../../scripts/cluster/admin-client.js";

export const FAULT_ENV: Record<string, string> = {
  CONCORD_LOG_LEVEL: "warn",
  CONCORD_ADMIN_ENDPOINTS: "true",
  CONCORD_RECOVERY_INTERVAL_MS: "200",
  CONCORD_RECOVERY_MIN_AGE_MS: "1000",
};

let started: Promise<FaultHarness> | undefined;

export function faultHarness(): Promise<FaultHarness> {
  started ??= (async () => {
    const dir = mkdtempSync(join(tmpdir(), "concord-fault-"));
    registerCluster(await startCluster({ dir, banks: 3, env: FAULT_ENV }));
    return new FaultHarness(dir);
  })();
  return started;
}

export async function stopFaultHarness(): Promise<void> {
  if (!started) return;
  const harness = await started.catch(() => undefined);
  started = undefined;
  if (!harness) return;
  await stopCluster(harness.dir);
  // CONCORD_KEEP_TEST_STATE=1 keeps the logs and data of a failing run for a post-mortem.
  if (process.env.CONCORD_KEEP_TEST_STATE === "1") return;
  removeOutsideData(harness.dir);
  rmSync(harness.dir, { recursive: true, force: true });
}

export class FaultHarness {
  /** What the tests' client was told, for the checker's durability invariant (I4). */
  readonly clientRecord: ClientEntry[] = [];

  constructor(readonly dir: string) {}

  /** Read afresh each time: restarts change pids. */
  get cluster(): ClusterFile {
    const file = readClusterFile(this.dir);
    if (!file) throw new Error(`no cluster in ${this.dir}`);
    return file;
  }

  process(name: string): ProcessEntry {
    const p = this.cluster.processes.find((x) => x.name === name);
    if (!p) throw new Error(`no process ${name}`);
    return p;
  }

  url(name: string): string {
    const p = this.process(name);
    if (!p.url) throw new Error(`${name} has no URL`);
    return p.url;
  }

  async arm(processName: string, failpoint: string, spec: FailpointSpec): Promise<void> {
    const res = await armFailpoint(this.cluster, this.url(processName), failpoint, spec);
    if (res.status !== 200)
      throw new Error(
        `arming ${failpoint} on ${processName}: ${res.status} ${JSON.stringify(res.data)}`,
      );
  }

  /** What a failpoint of a service did since it was last armed (GET /v1/admin/failpoints). */
  async failpointCounts(processName: string, failpoint: string): Promise<FailpointCounts> {
    const list = await this.admin<{ failpoints: ({ name: string } & FailpointCounts)[] }>(
      processName,
      "/v1/admin/failpoints",
    );
    const entry = list.failpoints.find((f) => f.name === failpoint);
    if (!entry) throw new Error(`${processName} has no failpoint ${failpoint}`);
    return { fired: entry.fired, finished: entry.finished };
  }

  /** Recovery passes a service has finished since it started (GET /v1/admin/recovery). */
  async recoveryPasses(processName: string): Promise<number> {
    return (await this.admin<{ passes: number }>(processName, "/v1/admin/recovery")).passes;
  }

  private async admin<T>(processName: string, path: string): Promise<T> {
    const res = await http.get(`${this.url(processName)}${path}`, {
      headers: { authorization: `Bearer ${adminSecretOf(this.cluster, processName)}` },
    });
    if (res.status !== 200)
      throw new Error(`GET ${path} at ${processName}: ${res.status} ${JSON.stringify(res.data)}`);
    return res.data as T;
  }

  /** Disarms every failpoint of every service that runs. */
  disarmAll(): Promise<void> {
    return disarmAllFailpoints(this.cluster);
  }

  signal(name: string, signal: NodeJS.Signals): void {
    process.kill(this.process(name).pid, signal);
  }

  isRunning(name: string): boolean {
    const p = this.process(name);
    return isOurProcess(p.pid, p.marker);
  }

  /** Waits (bounded) until a process has exited, e.g. after a crash failpoint fired. */
  async waitDead(name: string, boundMs = 20_000): Promise<void> {
    const until = Date.now() + boundMs;
    while (this.isRunning(name)) {
      if (Date.now() > until) throw new Error(`${name} still running after ${boundMs} ms`);
      await sleep(50);
    }
  }

  async restart(name: string, extraEnv: Record<string, string> = {}): Promise<void> {
    await restartProcess(this.dir, name, extraEnv);
  }

  /** Starts a process with `extraEnv` that is expected to crash (a failpoint), and waits for it to. */
  async startExpectingCrash(name: string, extraEnv: Record<string, string>): Promise<void> {
    const entry = this.process(name);
    const pid = spawnDetached({ ...entry, env: { ...entry.env, ...extraEnv } });
    const until = Date.now() + 30_000;
    while (isOurProcess(pid, entry.marker)) {
      if (Date.now() > until) throw new Error(`${name} did not crash within 30 s`);
      await sleep(50);
    }
  }

  /** Brings back whatever a test left stopped or dead: the next test starts whole. */
  async heal(): Promise<void> {
    for (const p of this.cluster.processes) {
      try {
        process.kill(p.pid, "SIGCONT");
      } catch {
        /* not running */
      }
    }
    registerCluster(await startCluster({ dir: this.dir, banks: 3, env: FAULT_ENV }));
  }

  /** Polls `check` until it is true, bounded. */
  async eventually(what: string, check: () => Promise<boolean>, boundMs = 30_000): Promise<void> {
    const until = Date.now() + boundMs;
    for (;;) {
      if (await check().catch(() => false)) return;
      if (Date.now() > until) throw new Error(`not within ${boundMs} ms: ${what}`);
      await sleep(100);
    }
  }

  /** Waits until nothing is in flight or prepared anywhere, then runs the checker. */
  async verify(): Promise<Report> {
    let last: Report | undefined;
    await this.eventually(
      "the cluster at rest (no prepared transaction, nothing undecided or unacknowledged)",
      async () => {
        last = checkInvariants(await gatherFacts(this.cluster, this.clientRecord));
        const liveness = last.invariants.find((i) => i.id === "I6");
        return liveness?.ok === true;
      },
      60_000,
    ).catch((err: unknown) => {
      if (!last) throw err;
    });
    const report = last as Report;
    expect(report.ok, formatText(report, "checker")).to.equal(true);
    return report;
  }

  record(txid: string | undefined, outcome: ClientEntry["outcome"]): void {
    if (txid) this.clientRecord.push({ txid, outcome });
  }
}

/**
 * Registers the hooks every fault suite needs: the harness before the first test, and after
 * each test everything healed and every failpoint disarmed, so the next one starts whole.
 */
export function useFaultHarness(set: (harness: FaultHarness) => void): void {
  let harness: FaultHarness | undefined;
  before(async () => {
    harness = await faultHarness();
    set(harness);
  });
  afterEach(async () => {
    await harness?.heal();
    await harness?.disarmAll();
  });
}
