/**
 * One real cluster for the integration suites: private PostgreSQL servers, Redis servers, the
 * coordinator and the participants (banks bank-a..c and an inventory, `inventory`), started from
 * nothing in a fresh state folder.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startCluster, stopCluster } from "../../scripts/cluster/cluster.js";
import { removeOutsideData } from "../../scripts/cluster/postgres.js";
import type { ClusterFile } from "../../scripts/cluster/cluster-file.js";
import { expect } from "chai";
import {
  openAccount,
  preparedLeft,
  registerCluster,
  settled,
  uniqueAccount,
} from "./bank-client.js";

let shared: Promise<ClusterFile> | undefined;
let sharedDir: string | undefined;

/**
 * Tests keep the logs to warnings and errors, so a failing run shows what went wrong. Suites run
 * up to 200 transfers at once with one API key; the per-client limits are tested on coordinators
 * of their own (client-limits.test.ts), so here they are set above what any suite sends.
 */
export const TEST_ENV: Record<string, string> = {
  CONCORD_LOG_LEVEL: "warn",
  CONCORD_CLIENT_MAX_IN_FLIGHT: "1000",
  CONCORD_CLIENT_MAX_HELD_MS: "86400000",
};

export function sharedCluster(): Promise<ClusterFile> {
  if (!shared) {
    sharedDir = mkdtempSync(join(tmpdir(), "concord-test-"));
    shared = startCluster({ dir: sharedDir, banks: 3, inventory: 1, env: TEST_ENV }).then(
      registerCluster,
    );
  }
  return shared;
}

export async function stopSharedCluster(): Promise<void> {
  if (!shared || !sharedDir) return;
  await shared.catch(() => undefined);
  await stopCluster(sharedDir);
  // PostgreSQL data may live outside the state folder (when the postgres user cannot reach it).
  removeOutsideData(sharedDir);
  rmSync(sharedDir, { recursive: true, force: true });
  shared = undefined;
}

/** What usePairPerTest gives a suite: the shared cluster and two accounts opened afresh per test. */
export interface PairContext {
  cluster: ClusterFile;
  alice: string;
  bob: string;
}

/** Where one account of the pair is opened, and with how much. */
export interface AccountAt {
  bank: string;
  balance: number;
}

/**
 * Mocha hooks for a suite on the shared cluster: before each test, alice (by default 1000 at
 * bank-a) and bob (by default 1000 at bank-b) are opened afresh; after each, the cluster settles
 * and nothing may stay prepared anywhere.
 */
export function usePairPerTest(
  pair: { alice?: Partial<AccountAt>; bob?: Partial<AccountAt> } = {},
): PairContext {
  const alice: AccountAt = { bank: "bank-a", balance: 1000, ...pair.alice };
  const bob: AccountAt = { bank: "bank-b", balance: 1000, ...pair.bob };
  const ctx = {} as PairContext;
  before(async function () {
    this.timeout(120_000);
    ctx.cluster = await sharedCluster();
  });
  beforeEach(async function () {
    ctx.alice = uniqueAccount("alice");
    ctx.bob = uniqueAccount("bob");
    await openAccount(ctx.cluster, alice.bank, ctx.alice, alice.balance);
    await openAccount(ctx.cluster, bob.bank, ctx.bob, bob.balance);
  });
  afterEach(async function () {
    await settled(ctx.cluster);
    expect(await preparedLeft(ctx.cluster), "prepared transactions left behind").to.equal(0);
  });
  return ctx;
}
