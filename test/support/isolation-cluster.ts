/**
 * A cluster of its own for the isolation suites: banks bank-a and bank-b run the defaults
 * (READ COMMITTED, no floor) and bank-c requires REPEATABLE READ or stronger and runs
 * SERIALIZABLE unless asked otherwise. Its own, because the write-skew suite breaks a bank
 * invariant on purpose (a customer below zero at READ COMMITTED), which the shared cluster's
 * suites would see.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readClusterFile, type ClusterFile } from "../../scripts/cluster/cluster-file.js";
import { restartProcess, startCluster, stopCluster } from "../../scripts/cluster/cluster.js";
import { removeOutsideData } from "../../scripts/cluster/postgres.js";
import { stopProcess } from "../../scripts/cluster/processes.js";
import { expect } from "chai";
import { preparedLeft, registerCluster, settled } from "./bank-client.js";
import { TEST_ENV } from "./cluster-fixture.js";

export const STRICT_BANK_ENV = {
  CONCORD_ISOLATION_FLOOR: "repeatable-read",
  CONCORD_ISOLATION_DEFAULT: "serializable",
};

let started: Promise<ClusterFile> | undefined;
let dir: string | undefined;
let users = 0;

/** The isolation cluster, started by the first suite that asks; stopped after the last one. */
export function isolationCluster(): Promise<ClusterFile> {
  users++;
  if (!started) {
    dir = mkdtempSync(join(tmpdir(), "concord-isolation-"));
    const at = dir;
    started = (async () => {
      await startCluster({ dir: at, banks: 3, inventory: 0, env: TEST_ENV });
      const before = readClusterFile(at);
      const bankC = before?.processes.find((p) => p.name === "bank-c");
      if (!before || !bankC) throw new Error("the isolation cluster has no bank-c");
      await stopProcess(bankC.pid, bankC.marker, "SIGTERM");
      await restartProcess(at, "bank-c", STRICT_BANK_ENV);
      const file = readClusterFile(at);
      if (!file) throw new Error(`no cluster file in ${at}`);
      return registerCluster(file);
    })();
  }
  return started;
}

export async function releaseIsolationCluster(): Promise<void> {
  users--;
  if (users > 0 || !started || !dir) return;
  await started.catch(() => undefined);
  await stopCluster(dir);
  removeOutsideData(dir);
  rmSync(dir, { recursive: true, force: true });
  started = undefined;
  dir = undefined;
}

/**
 * A suite's hooks around the isolation cluster: started (or shared) before its tests, released
 * after them, and after each test every transaction settled with nothing left prepared. Returns
 * the cluster, for use once `before` has run.
 */
export function onIsolationCluster(): () => ClusterFile {
  let cluster: ClusterFile | undefined;
  before(async function () {
    this.timeout(180_000);
    cluster = await isolationCluster();
  });
  after(async function () {
    this.timeout(60_000);
    await releaseIsolationCluster();
  });
  afterEach(async function () {
    this.timeout(60_000);
    if (!cluster) return;
    await settled(cluster);
    expect(await preparedLeft(cluster), "prepared transactions left behind").to.equal(0);
  });
  return () => {
    if (!cluster) throw new Error("the isolation cluster has not started yet");
    return cluster;
  };
}
