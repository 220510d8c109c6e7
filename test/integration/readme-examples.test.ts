import { expect } from "chai";
import { clusterFilePath, type ClusterFile } from "../../scripts/cluster/cluster-file.js";
import { account } from "../support/bank-client.js";
import { sharedCluster } from "../support/cluster-fixture.js";
import { recordCurl, type CurlCall } from "../support/curl-log.js";
import { runReadmeExample } from "../support/readme-examples.js";
import { undocumentedCalls } from "../support/readme-openapi.js";

/**
 * A new user copies the README's commands: they must work as written against a fresh cluster.
 * Each curl call is recorded, and it and its answer must match the called service's OpenAPI
 * document (/openapi.json).
 */
describe("the README's examples, run as written", function () {
  let cluster: ClusterFile;

  /** Runs an example with its curl calls recorded. */
  function runRecorded(name: string) {
    const log = recordCurl();
    try {
      const run = runReadmeExample(name, clusterFilePath(cluster.dir), log.env);
      return { run, calls: log.calls() };
    } finally {
      log.remove();
    }
  }

  async function expectDocumented(calls: CurlCall[]): Promise<void> {
    expect(calls.length, "no curl call recorded").to.be.greaterThan(0);
    expect(await undocumentedCalls(calls)).to.deep.equal([]);
  }

  before(async function () {
    this.timeout(120_000);
    cluster = await sharedCluster();
  });

  it("the API walk-through: open accounts, transfer, refused mint, own list, operator read, bank read", async function () {
    this.timeout(60_000);
    const { run, calls } = runRecorded("api");
    expect(run.status, `${run.stdout}\n${run.stderr}`).to.equal(0);
    const lines = run.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const [openA, openB, moved, mint, list, read, direct] = lines;
    expect(openA).to.deep.include({ id: "erin-try", balance: "10000" });
    expect(openB).to.deep.include({ id: "frank-try", balance: "0" });
    expect(moved).to.deep.include({ outcome: "committed" });
    expect((mint?.error as { code: string }).code).to.equal("unbalanced");
    expect((list?.transactions as { txid: string }[]).map((t) => t.txid)).to.include(moved?.txid);
    expect(read).to.deep.include({ outcome: "committed" });
    const balances = (read?.participants as { results: { balance: string }[] }[]).map(
      (p) => p.results[0]?.balance,
    );
    expect(balances).to.deep.equal(["7500", "2500"]);
    expect(direct).to.deep.include({ id: "frank-try", balance: "2500" });
    expect((await account(cluster, "bank-a", "erin-try")).balance).to.equal(7500n);
    await expectDocumented(calls);
  });

  it("the history walk-through: filtered pages with a cursor, a client's aborted transactions", function () {
    this.timeout(60_000);
    // Something to list: the API walk-through's transfer may not have run before this one.
    runReadmeExample("api", clusterFilePath(cluster.dir));
    const run = runReadmeExample("history", clusterFilePath(cluster.dir));
    expect(run.status, `${run.stdout}\n${run.stderr}`).to.equal(0);
    const pages = run.stdout
      .trim()
      .split("\n")
      .filter((l) => l.trim() !== "")
      .map((l) => JSON.parse(l) as { transactions: { state: string }[]; nextCursor: unknown });
    expect(pages.length).to.be.within(2, 3);
    for (const page of pages) expect(page).to.have.all.keys("transactions", "nextCursor");
    const first = pages[0];
    expect(first?.transactions.length).to.be.within(1, 2);
    for (const t of first?.transactions ?? []) expect(t.state).to.equal("committed");
  });

  it("the inventory walk-through: create an item (409 again), an order over two banks and the inventory, one out of stock, the item", async function () {
    this.timeout(60_000);
    const { run, calls } = runRecorded("inventory");
    expect(run.status, `${run.stdout}\n${run.stderr}`).to.equal(0);
    const lines = run.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const [created, again, openA, openB, order, outOfStock, lamp] = lines;
    expect(created).to.deep.equal({ id: "lamp-try", stock: 5, sold: 0, version: 0 });
    expect(again).to.deep.equal({
      error: { code: "item-exists", message: "item lamp-try already exists" },
    });
    expect(openA).to.deep.include({ id: "gina-try", balance: "10000" });
    expect(openB).to.deep.include({ id: "shop-try", balance: "0" });
    expect(order).to.deep.include({ outcome: "committed" });
    expect(outOfStock).to.deep.include({ outcome: "aborted" });
    const refusal = (outOfStock?.participants as { name: string; reason?: string }[]).find(
      (p) => p.name === "inventory",
    );
    expect(refusal?.reason).to.equal("out-of-stock");
    expect(lamp).to.deep.equal({ id: "lamp-try", stock: 3, sold: 2, version: 1 });
    expect((await account(cluster, "bank-a", "gina-try")).balance).to.equal(7000n);
    expect((await account(cluster, "bank-b", "shop-try")).balance).to.equal(3000n);
    await expectDocumented(calls);
  });

  it("the isolation walk-through: a level per transaction and per participant, named in the answer", async function () {
    this.timeout(60_000);
    const { run, calls } = runRecorded("isolation");
    expect(run.status, `${run.stdout}\n${run.stderr}`).to.equal(0);
    const lines = run.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const [from, to, moved] = lines;
    expect(from).to.deep.include({ id: "ida-try", balance: "1000" });
    expect(to).to.deep.include({ id: "jon-try", balance: "0" });
    expect(moved).to.deep.include({ outcome: "committed" });
    const levels = (moved?.participants as { name: string; isolation?: string }[]).map((p) => [
      p.name,
      p.isolation,
    ]);
    expect(levels).to.deep.equal([
      ["bank-a", "serializable"],
      ["bank-b", "read-committed"],
    ]);
    expect((await account(cluster, "bank-b", "jon-try")).balance).to.equal(100n);
    await expectDocumented(calls);
  });

  it("the linked accounts walk-through: a customer's two accounts, checking overdrawn and covered, a debit past the total refused, the overdraft paid back", async function () {
    this.timeout(60_000);
    const { run, calls } = runRecorded("linked");
    expect(run.status, `${run.stdout}\n${run.stderr}`).to.equal(0);
    const lines = run.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const [checking, savings, payee, moved, customer, refused, paidBack] = lines;
    expect(checking).to.deep.equal({
      id: "kim-checking",
      balance: "100",
      version: 0,
      customer: "kim-try",
    });
    expect(savings).to.deep.include({ id: "kim-savings", customer: "kim-try" });
    expect(payee).to.deep.include({ id: "lee-try", customer: null });
    expect(moved).to.deep.include({ outcome: "committed" });
    expect(customer).to.deep.equal({
      customer: "kim-try",
      accounts: [
        { id: "kim-checking", balance: "-200", version: 1 },
        { id: "kim-savings", balance: "500", version: 0 },
      ],
      total: "300",
    });
    expect(refused).to.deep.include({ outcome: "aborted" });
    const refusal = (
      refused?.participants as { name: string; reason?: string; detail?: object }[]
    ).find((p) => p.name === "bank-a");
    expect(refusal?.reason).to.equal("insufficient-funds");
    expect(refusal?.detail).to.deep.include({ customer: "kim-try", total: "-100" });
    expect(paidBack).to.deep.include({ outcome: "committed" });
    // Nothing left below zero on the shared cluster.
    expect((await account(cluster, "bank-a", "kim-checking")).balance).to.equal(0n);
    expect((await account(cluster, "bank-a", "kim-savings")).balance).to.equal(300n);
    await expectDocumented(calls);
  });

  it("the client library walk-through: a committed run, its record, a refusal with its reason, a 400 naming the field", async function () {
    this.timeout(60_000);
    const { run, calls } = runRecorded("client");
    expect(run.status, `${run.stdout}\n${run.stderr}`).to.equal(0);
    const lines = run.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const [openA, openB, results, refusal] = lines;
    expect(openA).to.deep.include({ id: "hana-try", balance: "1000" });
    expect(openB).to.deep.include({ id: "ivan-try", balance: "0" });
    expect(results).to.deep.equal({
      done: "committed",
      state: "committed",
      refused: { participant: "bank-a", reason: "insufficient-funds" },
    });
    expect(refusal).to.deep.equal({
      status: 400,
      code: "invalid-request",
      field: "body.participants.0.operations.0.amount",
    });
    expect((await account(cluster, "bank-b", "ivan-try")).balance).to.equal(400n);
    await expectDocumented(calls);
  });
  it("the operator walk-through: in doubt, stats, and an abort of an unknown txid refused (404)", function () {
    this.timeout(60_000);
    const run = runReadmeExample("operator", clusterFilePath(cluster.dir));
    expect(run.status, `${run.stdout}\n${run.stderr}`).to.equal(0);
    const lines = run.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const [inDoubt, stats, unknown] = lines;
    const names = (inDoubt?.participants as { name: string }[]).map((p) => p.name);
    expect(names).to.include.members(["bank-a", "bank-b"]);
    expect(inDoubt?.counts).to.have.keys("undecided", "unacked");
    expect(stats?.latency).to.have.keys("prepare", "decide", "phase2", "end_to_end");
    expect((unknown?.error as { code: string }).code).to.equal("not-found");
  });
});
