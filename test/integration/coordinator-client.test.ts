/**
 * The client library against the shared real cluster: a transfer commits, a replay with the same
 * Idempotency-Key gets the same answer and runs nothing twice, an overdraft is an abort with its
 * reason, a refusal is a typed error, and get/list see the transaction.
 */
import { expect } from "chai";
import type { ClusterFile } from "../../scripts/cluster/cluster-file.js";
import { CoordinatorClient, CoordinatorRequestError } from "../../shared/client/index.js";
import { account, ledgerOf, openAccount, uniqueAccount } from "../support/bank-client.js";
import { present } from "../support/answers.js";
import { sharedCluster } from "../support/cluster-fixture.js";

describe("coordinator client against a real cluster", function () {
  let cluster: ClusterFile;
  let client: CoordinatorClient;
  let alice: string;
  let bob: string;

  before(async function () {
    this.timeout(120_000);
    cluster = await sharedCluster();
    client = new CoordinatorClient({
      url: cluster.coordinator.url,
      apiKey: cluster.secrets.apiKey,
    });
  });

  after(async function () {
    await client.close();
  });

  beforeEach(async function () {
    alice = uniqueAccount("alice");
    bob = uniqueAccount("bob");
    await openAccount(cluster, "bank-a", alice, 1000);
    await openAccount(cluster, "bank-b", bob, 0);
  });

  const transfer = (amount: string) => [
    { name: "bank-a", operations: [{ op: "debit", account: alice, amount }] },
    { name: "bank-b", operations: [{ op: "credit", account: bob, amount }] },
  ];

  it("a transfer commits; the same key again gets the same answer and moves nothing twice", async function () {
    const first = await client.run({ participants: transfer("250"), timeoutMs: 5000 });
    expect(first.outcome).to.equal("committed");
    expect(first.replayed).to.equal(false);
    expect(first.participants.map((p) => [p.name, p.vote])).to.deep.equal([
      ["bank-a", "yes"],
      ["bank-b", "yes"],
    ]);
    const again = await client.run({
      participants: transfer("250"),
      timeoutMs: 5000,
      idempotencyKey: present(first.idempotencyKey, "the run's key"),
    });
    expect(again.replayed).to.equal(true);
    expect([again.outcome, again.txid]).to.deep.equal([first.outcome, first.txid]);
    expect((await account(cluster, "bank-a", alice)).balance).to.equal(750n);
    expect((await account(cluster, "bank-b", bob)).balance).to.equal(250n);
    expect(await ledgerOf(cluster, "bank-a", first.txid)).to.have.length(1);
  });

  it("an overdraft is an abort that names the refusing bank and its reason", async function () {
    const r = await client.run({ participants: transfer("5000") });
    if (r.outcome !== "aborted") throw new Error(`expected an abort, got ${r.outcome}`);
    expect(r.refusedBy).to.deep.equal({ participant: "bank-a", reason: "insufficient-funds" });
    expect((await account(cluster, "bank-a", alice)).balance).to.equal(1000n);
  });

  it("refusals are typed errors: unbalanced (422), a key reused for another body (409)", async function () {
    const unbalanced = await client
      .run({
        participants: [
          { name: "bank-b", operations: [{ op: "credit", account: bob, amount: "1" }] },
        ],
      })
      .catch((e: unknown) => e);
    expect(unbalanced).to.be.instanceOf(CoordinatorRequestError);
    if (!(unbalanced instanceof CoordinatorRequestError)) return;
    expect([unbalanced.status, unbalanced.known]).to.deep.equal([422, "unbalanced"]);

    const first = await client.run({ participants: transfer("1") });
    const reused = await client
      .run({
        participants: transfer("2"),
        idempotencyKey: present(first.idempotencyKey, "the run's key"),
      })
      .catch((e: unknown) => e);
    expect(reused).to.be.instanceOf(CoordinatorRequestError);
    if (!(reused instanceof CoordinatorRequestError)) return;
    expect([reused.status, reused.known]).to.deep.equal([409, "idempotency-key-reused"]);
  });

  it("get and list see the transaction", async function () {
    const r = await client.run({ participants: transfer("10") });
    const tx = await client.get(r.txid);
    expect([tx.txid, tx.decision]).to.deep.equal([r.txid, "commit"]);
    expect(tx.participants.map((p) => p.name)).to.deep.equal(["bank-a", "bank-b"]);
    expect(tx.events.map((e) => e.type)).to.include("decision");
    const listed = await client.list({ limit: 50 });
    expect(listed.map((t) => t.txid)).to.include(r.txid);
    const committed = await client.list({ state: "committed", limit: 5 });
    expect(committed.every((t) => t.state === "committed")).to.equal(true);
    const missing = await client
      .get("0190a6d2-6b1e-7c3a-9f00-2c5e1a7b8d90")
      .catch((e: unknown) => e);
    expect(missing).to.be.instanceOf(CoordinatorRequestError);
    if (missing instanceof CoordinatorRequestError) expect(missing.status).to.equal(404);
  });
});
