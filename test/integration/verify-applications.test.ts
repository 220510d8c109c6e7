/**
 * `npm run verify` over a cluster of banks and an inventory: the protocol invariants hold the
 * inventory to its outcome rows like any participant, each application's own checks are in the
 * report, and a corruption only the inventory can see (an item's stock changed behind its back)
 * fails the report, naming the inventory's check.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { expect } from "chai";
import pg from "pg";
import { verifyCluster } from "../../scripts/checker/verify.js";
import { startCluster, stopCluster } from "../../scripts/cluster/cluster.js";
import {
  adminSecretOf,
  participantOf,
  type ClusterFile,
} from "../../scripts/cluster/cluster-file.js";
import { removeOutsideData } from "../../scripts/cluster/postgres.js";
import { http, openAccount, registerCluster, settled } from "../support/bank-client.js";
import { TEST_ENV } from "../support/cluster-fixture.js";

const DIST = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");

/** `npm run verify -- --dir <dir>`, as the compiled script: its exit status and output. */
function verifyCli(dir: string): { status: number | null; stdout: string } {
  const r = spawnSync(process.execPath, [join(DIST, "scripts", "verify.js"), "--dir", dir], {
    encoding: "utf8",
    timeout: 120_000,
  });
  return { status: r.status, stdout: r.stdout };
}

async function createItem(cluster: ClusterFile, id: string, stock: number): Promise<void> {
  const res = await http.post(
    `${participantOf(cluster, "inventory").participantUrl}/v1/items`,
    { id, stock },
    { headers: { authorization: `Bearer ${adminSecretOf(cluster, "inventory")}` } },
  );
  expect(res.status, JSON.stringify(res.data)).to.equal(201);
}

async function runOrder(
  cluster: ClusterFile,
  amount: string,
  quantity: number,
): Promise<string | undefined> {
  const res = await http.post<{ outcome?: string }>(`${cluster.coordinator.url}/v1/transactions`, {
    participants: [
      { name: "bank-a", operations: [{ op: "debit", account: "alice", amount }] },
      { name: "bank-b", operations: [{ op: "credit", account: "shop", amount }] },
      { name: "inventory", operations: [{ op: "reserve", item: "widget", quantity }] },
    ],
  });
  return res.data.outcome;
}

describe("npm run verify over banks and an inventory", function () {
  let dir: string;
  let cluster: ClusterFile;

  before(async function () {
    this.timeout(180_000);
    dir = mkdtempSync(join(tmpdir(), "concord-verify-apps-"));
    cluster = registerCluster(await startCluster({ dir, banks: 2, inventory: 1, env: TEST_ENV }));
    await openAccount(cluster, "bank-a", "alice", 10_000);
    await openAccount(cluster, "bank-b", "shop", 0);
    await createItem(cluster, "widget", 5);
    await createItem(cluster, "gadget", 3);
  });

  after(async function () {
    this.timeout(60_000);
    if (!dir) return;
    await stopCluster(dir);
    removeOutsideData(dir);
    rmSync(dir, { recursive: true, force: true });
  });

  it("passes after committed and aborted orders, with every application's checks in the report", async function () {
    this.timeout(120_000);
    expect(await runOrder(cluster, "100", 2)).to.equal("committed");
    expect(await runOrder(cluster, "100", 3)).to.equal("committed");
    expect(await runOrder(cluster, "100", 1)).to.equal("aborted"); // out of stock
    expect(await runOrder(cluster, "20000", 1)).to.equal("aborted"); // insufficient funds
    await settled(cluster);

    const report = await verifyCluster(dir);
    const failed = report.invariants.filter((i) => !i.ok);
    expect(failed, JSON.stringify(failed)).to.deep.equal([]);
    const ids = report.invariants.map((i) => i.id);
    expect(ids).to.include.members([
      "I1",
      "I6",
      "I7",
      "bank-a/money-totals",
      "bank-b/ledger-explains-balances",
      "inventory/stock-accounted-for",
      "inventory/no-negative-stock",
      "inventory/movements-agree-with-outcomes",
    ]);
    expect(report.summary).to.include({ participants: 3, banks: 2, committedTxids: 2 });

    const cli = verifyCli(dir);
    expect(cli.status, cli.stdout).to.equal(0);
    expect(cli.stdout).to.contain("every invariant holds");
  });

  it("fails, naming the inventory's check, when an item's stock is changed behind its back", async function () {
    this.timeout(120_000);
    const db = new pg.Client({
      connectionString: participantOf(cluster, "inventory").adminDatabaseUrl,
    });
    await db.connect();
    try {
      await db.query("UPDATE items SET stock = stock + 7 WHERE id = 'gadget'");
    } finally {
      await db.end();
    }

    const report = await verifyCluster(dir);
    expect(report.ok).to.equal(false);
    const failed = report.invariants.filter((i) => !i.ok);
    expect(failed.map((i) => i.id)).to.deep.equal(["inventory/stock-accounted-for"]);
    expect(failed[0]?.violations.join("\n")).to.contain("item gadget");

    const cli = verifyCli(dir);
    expect(cli.status, cli.stdout).to.equal(1);
    expect(cli.stdout).to.contain("FAILED inventory/stock-accounted-for");
  });
});
