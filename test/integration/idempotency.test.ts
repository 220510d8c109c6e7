import { expect } from "chai";
import type { ClusterFile } from "../../scripts/cluster/cluster-file.js";
import { newTxid } from "../../shared/ids.js";
import {
  account,
  bankUrl,
  http,
  ledgerOf,
  openAccount,
  preparedLeft,
  settled,
  transfer,
  transferBody,
  uniqueAccount,
} from "../support/bank-client.js";
import type { DecisionAckAnswer, PrepareAnswer, RunAnswer } from "../support/answers.js";
import { sharedCluster } from "../support/cluster-fixture.js";

describe("every message is idempotent by txid", function () {
  let cluster: ClusterFile;
  let alice: string;

  before(async function () {
    this.timeout(120_000);
    cluster = await sharedCluster();
  });

  beforeEach(async function () {
    alice = uniqueAccount("alice");
    await openAccount(cluster, "bank-a", alice, 1000);
  });

  afterEach(async function () {
    await settled(cluster);
    expect(await preparedLeft(cluster), "prepared transactions left behind").to.equal(0);
  });

  const prepare = (txid: string, amount: string) =>
    http.post<PrepareAnswer>(`${bankUrl(cluster, "bank-a")}/v1/2pc/${txid}/prepare`, {
      operations: [{ op: "debit", account: alice, amount }],
    });
  const decide = (txid: string, decision: "commit" | "abort") =>
    http.post<DecisionAckAnswer>(`${bankUrl(cluster, "bank-a")}/v1/2pc/${txid}/${decision}`, {});

  it("a duplicated PREPARE returns the vote already given and executes nothing twice", async function () {
    const txid = newTxid();
    const first = await prepare(txid, "100");
    expect(first.data.vote).to.equal("yes");
    const again = await prepare(txid, "100");
    expect(again.status).to.equal(200);
    expect(again.data.vote).to.equal("yes");
    expect((await decide(txid, "commit")).data).to.deep.equal({ txid, state: "committed" });
    expect((await account(cluster, "bank-a", alice)).balance).to.equal(900n);
    expect(await ledgerOf(cluster, "bank-a", txid)).to.have.length(1);
  });

  it("a duplicated COMMIT succeeds and changes nothing", async function () {
    const txid = newTxid();
    await prepare(txid, "100");
    await decide(txid, "commit");
    const again = await decide(txid, "commit");
    expect(again.status).to.equal(200);
    expect(again.data).to.deep.equal({ txid, state: "committed" });
    expect((await account(cluster, "bank-a", alice)).balance).to.equal(900n);
    expect(await ledgerOf(cluster, "bank-a", txid)).to.have.length(1);
    // A PREPARE after the commit cannot run the operations again.
    const late = await prepare(txid, "100");
    expect(late.data.vote).to.equal("yes");
    expect((await account(cluster, "bank-a", alice)).balance).to.equal(900n);
  });

  it("a duplicated ABORT succeeds and changes nothing", async function () {
    const txid = newTxid();
    await prepare(txid, "100");
    expect((await decide(txid, "abort")).data).to.deep.equal({ txid, state: "aborted" });
    const again = await decide(txid, "abort");
    expect(again.status).to.equal(200);
    expect(again.data).to.deep.equal({ txid, state: "aborted" });
    expect((await account(cluster, "bank-a", alice)).balance).to.equal(1000n);
    expect(await ledgerOf(cluster, "bank-a", txid)).to.deep.equal([]);
  });

  it("ABORT before PREPARE leaves a tombstone: the late PREPARE votes no and prepares nothing", async function () {
    const txid = newTxid();
    expect((await decide(txid, "abort")).data).to.deep.equal({ txid, state: "aborted" });
    const late = await prepare(txid, "100");
    expect(late.status).to.equal(200);
    expect(late.data.vote).to.equal("no");
    expect(late.data.reason).to.equal("already-aborted");
    expect((await account(cluster, "bank-a", alice)).balance).to.equal(1000n);
    expect(await preparedLeft(cluster)).to.equal(0);
  });

  it("ABORT racing a PREPARE in flight waits for it and rolls it back", async function () {
    const txid = newTxid();
    const [vote, abort] = await Promise.all([prepare(txid, "100"), decide(txid, "abort")]);
    expect(abort.data).to.deep.equal({ txid, state: "aborted" });
    expect(["yes", "no"]).to.include(vote.data.vote);
    expect((await account(cluster, "bank-a", alice)).balance).to.equal(1000n);
    expect(await ledgerOf(cluster, "bank-a", txid)).to.deep.equal([]);
  });

  it("COMMIT of a transaction never prepared is refused with 409 and journals nothing", async function () {
    const txid = newTxid();
    const res = await decide(txid, "commit");
    expect(res.status).to.equal(409);
    expect(res.data.error?.code).to.equal("not-prepared");
    // The refusal left no decision behind: an ABORT still succeeds.
    expect((await decide(txid, "abort")).data).to.deep.equal({ txid, state: "aborted" });
  });

  it("COMMIT after ABORT is refused, and ABORT after COMMIT is refused", async function () {
    const aborted = newTxid();
    await prepare(aborted, "1");
    await decide(aborted, "abort");
    const commitLate = await decide(aborted, "commit");
    expect(commitLate.status).to.equal(409);
    expect(commitLate.data.error?.code).to.equal("already-aborted");

    const committed = newTxid();
    await prepare(committed, "1");
    await decide(committed, "commit");
    const abortLate = await decide(committed, "abort");
    expect(abortLate.status).to.equal(409);
    expect(abortLate.data.error?.code).to.equal("already-committed");
    expect((await account(cluster, "bank-a", alice)).balance).to.equal(999n);
  });

  it("a retried request with the same Idempotency-Key returns the first result and runs nothing twice", async function () {
    const bob = uniqueAccount("bob");
    await openAccount(cluster, "bank-b", bob, 0);
    const key = `test-${alice}`;
    const spec = {
      from: { bank: "bank-a", account: alice },
      to: { bank: "bank-b", account: bob },
      amount: 250,
    };
    const first = await transfer(cluster, spec, { "idempotency-key": key });
    const retry = await transfer(cluster, spec, { "idempotency-key": key });
    expect(first.data.outcome).to.equal("committed");
    expect(retry.status).to.equal(200);
    expect(retry.headers["idempotent-replayed"]).to.equal("true");
    expect(retry.data.txid).to.equal(first.data.txid);
    expect(retry.data.outcome).to.equal("committed");
    expect((await account(cluster, "bank-a", alice)).balance).to.equal(750n);
    expect((await account(cluster, "bank-b", bob)).balance).to.equal(250n);

    // Concurrent duplicates: exactly one runs.
    const key2 = `${key}-concurrent`;
    const racing = await Promise.all(
      [1, 2, 3].map(() => transfer(cluster, spec, { "idempotency-key": key2 })),
    );
    expect(new Set(racing.map((r) => r.data.txid)).size).to.equal(1);
    expect((await account(cluster, "bank-a", alice)).balance).to.equal(500n);

    const other = await http.post<RunAnswer>(
      `${cluster.coordinator.url}/v1/transactions`,
      transferBody({ ...spec, amount: 1 }),
      { headers: { "idempotency-key": key } },
    );
    expect(other.status).to.equal(409);
    expect(other.data.error?.code).to.equal("idempotency-key-reused");
    expect((await account(cluster, "bank-a", alice)).balance).to.equal(500n);
  });
});
