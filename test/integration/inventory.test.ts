/**
 * The inventory reference application (participant/inventory) in real transactions with the
 * banks: an order pays (debit at bank-a, credit at bank-b) and reserves stock at the inventory in
 * one atomic transaction; out of stock aborts it everywhere; an inventory operation its schema
 * refuses is refused by the coordinator before anything is logged or prepared.
 */
import { expect } from "chai";
import pg from "pg";
import {
  adminSecretOf,
  participantOf,
  type ClusterFile,
} from "../../scripts/cluster/cluster-file.js";
import {
  account,
  http,
  loggedCount,
  openAccount,
  preparedLeft,
  settled,
  uniqueAccount,
} from "../support/bank-client.js";
import { sharedCluster } from "../support/cluster-fixture.js";

interface Item {
  id: string;
  stock: number;
  sold: number;
  version: number;
}

interface Answer {
  txid?: string;
  outcome?: string;
  reason?: string;
  participants?: {
    name: string;
    vote?: string;
    reason?: string;
    detail?: Record<string, unknown>;
    results?: unknown[];
  }[];
  error?: { code: string; message: string; field?: string };
}

const inventoryUrl = (cluster: ClusterFile) => participantOf(cluster, "inventory").participantUrl;

async function createItem(cluster: ClusterFile, id: string, stock: number): Promise<void> {
  const res = await http.post(
    `${inventoryUrl(cluster)}/v1/items`,
    { id, stock },
    { headers: { authorization: `Bearer ${adminSecretOf(cluster, "inventory")}` } },
  );
  if (res.status !== 201)
    throw new Error(`creating item ${id}: ${res.status} ${JSON.stringify(res.data)}`);
}

async function item(cluster: ClusterFile, id: string): Promise<Item> {
  const res = await http.get<Item>(`${inventoryUrl(cluster)}/v1/items/${id}`);
  expect(res.status, JSON.stringify(res.data)).to.equal(200);
  return res.data;
}

/** Prepared transactions left at the inventory's PostgreSQL. */
async function preparedAtInventory(cluster: ClusterFile): Promise<number> {
  const db = new pg.Client({ connectionString: participantOf(cluster, "inventory").databaseUrl });
  await db.connect();
  try {
    const { rows } = await db.query<{ n: string }>(
      "SELECT count(*)::text AS n FROM pg_prepared_xacts WHERE database = current_database()",
    );
    return Number(rows[0]?.n ?? 0);
  } finally {
    await db.end();
  }
}

/** An order: pay `amount` from alice (bank-a) to the shop (bank-b), reserve `inventoryOps`. */
function order(alice: string, shop: string, amount: string, inventoryOps: unknown[]) {
  return {
    participants: [
      { name: "bank-a", operations: [{ op: "debit", account: alice, amount }] },
      { name: "bank-b", operations: [{ op: "credit", account: shop, amount }] },
      { name: "inventory", operations: inventoryOps },
    ],
  };
}

describe("the inventory application, in transactions with the banks", function () {
  let cluster: ClusterFile;
  let alice: string;
  let shop: string;
  let widget: string;

  before(async function () {
    this.timeout(120_000);
    cluster = await sharedCluster();
  });

  beforeEach(async function () {
    alice = uniqueAccount("alice");
    shop = uniqueAccount("shop");
    widget = uniqueAccount("widget");
    await openAccount(cluster, "bank-a", alice, 1000);
    await openAccount(cluster, "bank-b", shop, 0);
    await createItem(cluster, widget, 10);
  });

  afterEach(async function () {
    await settled(cluster);
    expect(await preparedLeft(cluster), "prepared at the banks").to.equal(0);
    expect(await preparedAtInventory(cluster), "prepared at the inventory").to.equal(0);
  });

  const run = (body: unknown) =>
    http.post<Answer>(`${cluster.coordinator.url}/v1/transactions`, body);

  it("commits a three-party order: the payment at both banks and the reservation at the inventory", async function () {
    const res = await run(
      order(alice, shop, "300", [{ op: "reserve", item: widget, quantity: 3 }]),
    );
    expect(res.status, JSON.stringify(res.data)).to.equal(200);
    expect(res.data.outcome).to.equal("committed");
    const inventory = res.data.participants?.find((p) => p.name === "inventory");
    expect(inventory?.results).to.deep.equal([{ item: widget, stock: 7, sold: 3, version: 1 }]);
    expect((await account(cluster, "bank-a", alice)).balance).to.equal(700n);
    expect((await account(cluster, "bank-b", shop)).balance).to.equal(300n);
    expect(await item(cluster, widget)).to.deep.equal({
      id: widget,
      stock: 7,
      sold: 3,
      version: 1,
    });
  });

  it("aborts an order out of stock everywhere, with the reason out-of-stock, and changes nothing", async function () {
    const res = await run(
      order(alice, shop, "300", [{ op: "reserve", item: widget, quantity: 11 }]),
    );
    expect(res.status, JSON.stringify(res.data)).to.equal(200);
    expect(res.data.outcome).to.equal("aborted");
    expect(res.data.reason).to.contain("out-of-stock");
    const inventory = res.data.participants?.find((p) => p.name === "inventory");
    expect(inventory).to.deep.include({ vote: "no", reason: "out-of-stock" });
    expect(inventory?.detail).to.deep.equal({ item: widget, quantity: 11 });
    await settled(cluster);
    expect((await account(cluster, "bank-a", alice)).balance).to.equal(1000n);
    expect((await account(cluster, "bank-b", shop)).balance).to.equal(0n);
    expect(await item(cluster, widget)).to.deep.equal({
      id: widget,
      stock: 10,
      sold: 0,
      version: 0,
    });
  });

  it("answers 422 for an item that does not exist (the inventory's client fault)", async function () {
    const res = await run(
      order(alice, shop, "1", [{ op: "reserve", item: uniqueAccount("nothing"), quantity: 1 }]),
    );
    expect(res.status, JSON.stringify(res.data)).to.equal(422);
    expect((await account(cluster, "bank-a", alice)).balance).to.equal(1000n);
  });

  it("releases what was reserved, and refuses a stale expectedVersion with version-conflict", async function () {
    const reserve = await run(
      order(alice, shop, "10", [{ op: "reserve", item: widget, quantity: 4 }]),
    );
    expect(reserve.data.outcome, JSON.stringify(reserve.data)).to.equal("committed");
    const stale = await run(
      order(alice, shop, "10", [{ op: "release", item: widget, quantity: 1, expectedVersion: 0 }]),
    );
    expect(stale.data.outcome, JSON.stringify(stale.data)).to.equal("aborted");
    expect(stale.data.participants?.find((p) => p.name === "inventory")?.reason).to.equal(
      "version-conflict",
    );
    const release = await run(
      order(alice, shop, "10", [{ op: "release", item: widget, quantity: 4, expectedVersion: 1 }]),
    );
    expect(release.data.outcome, JSON.stringify(release.data)).to.equal("committed");
    expect(await item(cluster, widget)).to.deep.equal({
      id: widget,
      stock: 10,
      sold: 0,
      version: 2,
    });
  });

  it("refuses an inventory operation its schema refuses with a 400 naming the field, before anything is logged or prepared", async function () {
    const before = await loggedCount(cluster);
    for (const [bad, field] of [
      [{ op: "reserve", item: widget, quantity: 0 }, "quantity"],
      [{ op: "reserve", item: widget, quantity: "3" }, "quantity"],
      [{ op: "reserve", item: "no spaces", quantity: 1 }, "item"],
      [{ op: "reserve", item: widget, quantity: 1, extra: true }, ""],
      [{ op: "steal", item: widget, quantity: 1 }, "op"],
    ] as const) {
      const res = await run(order(alice, shop, "300", [bad]));
      expect(res.status, JSON.stringify(res.data)).to.equal(400);
      expect(res.data.error?.code).to.equal("invalid-request");
      expect(res.data.error?.field ?? res.data.error?.message, JSON.stringify(bad)).to.contain(
        `participants.2.operations.0${field === "" ? "" : `.${field}`}`,
      );
    }
    expect(await loggedCount(cluster)).to.equal(before);
    expect(await preparedAtInventory(cluster)).to.equal(0);
    expect((await account(cluster, "bank-a", alice)).balance).to.equal(1000n);
    expect(await item(cluster, widget)).to.deep.equal({
      id: widget,
      stock: 10,
      sold: 0,
      version: 0,
    });
  });

  it("creates items once (409 for an id taken), lists them with totals, and its invariants hold", async function () {
    const again = await http.post(
      `${inventoryUrl(cluster)}/v1/items`,
      { id: widget, stock: 1 },
      { headers: { authorization: `Bearer ${adminSecretOf(cluster, "inventory")}` } },
    );
    expect(again.status).to.equal(409);
    // The shared code and body every service sends (shared/wire-errors.ts), as a bank's account-exists.
    expect(again.data).to.deep.equal({
      error: { code: "item-exists", message: `item ${widget} already exists` },
    });
    const list = await http.get<{ items: Item[]; totals: { stock: number; sold: number } }>(
      `${inventoryUrl(cluster)}/v1/items?limit=10000`,
    );
    expect(list.status).to.equal(200);
    expect(list.data.items.map((i) => i.id)).to.include(widget);
    expect(list.data.totals.stock).to.be.at.least(10);
    const inv = await http.get<{ holds: boolean; checks: { name: string; holds: boolean }[] }>(
      `${inventoryUrl(cluster)}/v1/invariants`,
    );
    expect(inv.status).to.equal(200);
    expect(inv.data.checks.map((c) => c.name)).to.deep.equal([
      "stock accounted for",
      "no negative stock",
      "movements agree with outcomes",
    ]);
    expect(inv.data.holds, JSON.stringify(inv.data)).to.equal(true);
  });
});
