import { expect } from "chai";
import {
  account,
  http,
  ledgerOf,
  openAccount,
  snapshot,
  transfer,
  uniqueAccount,
} from "../support/bank-client.js";
import {
  txidOf,
  type ParticipantStatus,
  type RunAnswer,
  type TransactionDetail,
  type TransactionList,
} from "../support/answers.js";
import { usePairPerTest } from "../support/cluster-fixture.js";

describe("transfers between banks (real PostgreSQL and Redis)", function () {
  const ctx = usePairPerTest({ bob: { balance: 500 } });

  it("a transfer commits at both banks, with a ledger entry for its txid at each", async function () {
    const { cluster, alice, bob } = ctx;
    const res = await transfer(cluster, {
      from: { bank: "bank-a", account: alice },
      to: { bank: "bank-b", account: bob },
      amount: 300,
    });
    expect(res.status).to.equal(200);
    expect(res.data.outcome).to.equal("committed");
    expect(res.data.participants?.map((p) => p.state)).to.deep.equal(["committed", "committed"]);
    expect((await account(cluster, "bank-a", alice)).balance).to.equal(700n);
    expect((await account(cluster, "bank-b", bob)).balance).to.equal(800n);
    expect(await ledgerOf(cluster, "bank-a", txidOf(res))).to.deep.equal([
      { account: alice, delta: -300n },
    ]);
    expect(await ledgerOf(cluster, "bank-b", txidOf(res))).to.deep.equal([
      { account: bob, delta: 300n },
    ]);

    const log = await http.get<TransactionDetail>(
      `${cluster.coordinator.url}/v1/transactions/${txidOf(res)}`,
    );
    expect(log.data.decision).to.equal("commit");
    expect(log.data.state).to.equal("committed");
    expect(
      log.data.participants?.every((p) => p.vote === "yes" && p.acknowledgedAt !== null),
    ).to.equal(true);
    expect(log.data.events?.map((e) => e.type)).to.deep.equal(["begin", "decision", "end"]);
  });

  it("insufficient funds aborts everywhere: no balance changes and no ledger entry at either bank", async function () {
    const { cluster, alice, bob } = ctx;
    const before = await snapshot(cluster);
    const res = await transfer(cluster, {
      from: { bank: "bank-a", account: alice },
      to: { bank: "bank-b", account: bob },
      amount: 1001,
    });
    expect(res.status).to.equal(200);
    expect(res.data.outcome).to.equal("aborted");
    const debtor = res.data.participants?.find((p) => p.name === "bank-a");
    expect(debtor?.vote).to.equal("no");
    expect(debtor?.reason).to.equal("insufficient-funds");
    expect((await account(cluster, "bank-a", alice)).balance).to.equal(1000n);
    expect((await account(cluster, "bank-b", bob)).balance).to.equal(500n);
    expect(await ledgerOf(cluster, "bank-a", txidOf(res))).to.deep.equal([]);
    expect(await ledgerOf(cluster, "bank-b", txidOf(res))).to.deep.equal([]);
    expect((await snapshot(cluster)).ledgerEntries).to.equal(before.ledgerEntries);
    const log = await http.get<TransactionDetail>(
      `${cluster.coordinator.url}/v1/transactions/${txidOf(res)}`,
    );
    expect(log.data.decision).to.equal("abort");
  });

  it("a stale expectedVersion aborts the transfer with version-conflict naming the account that changed", async function () {
    const { cluster, alice, bob } = ctx;
    const seen = await account(cluster, "bank-a", alice);
    const first = await transfer(cluster, {
      from: { bank: "bank-a", account: alice, expectedVersion: seen.version },
      to: { bank: "bank-b", account: bob },
      amount: 10,
    });
    expect(first.data.outcome).to.equal("committed");
    const stale = await transfer(cluster, {
      from: { bank: "bank-a", account: alice, expectedVersion: seen.version },
      to: { bank: "bank-b", account: bob },
      amount: 10,
    });
    expect(stale.data.outcome).to.equal("aborted");
    const refusal = stale.data.participants?.find((p) => p.name === "bank-a");
    expect(refusal?.reason).to.equal("version-conflict");
    expect(refusal?.detail).to.deep.equal({
      account: alice,
      expectedVersion: seen.version,
      currentVersion: seen.version + 1,
    });
    expect((await account(cluster, "bank-a", alice)).balance).to.equal(990n);
    expect((await account(cluster, "bank-b", bob)).balance).to.equal(510n);
  });

  it("a transaction with one participant commits in one phase, with no prepare round", async function () {
    const { cluster, alice } = ctx;
    const carol = uniqueAccount("carol");
    await openAccount(cluster, "bank-a", carol, 0);
    const res = await http.post<RunAnswer>(`${cluster.coordinator.url}/v1/transactions`, {
      participants: [
        {
          name: "bank-a",
          operations: [
            { op: "debit", account: alice, amount: "5" },
            { op: "credit", account: carol, amount: "5" },
            { op: "read", account: alice },
          ],
        },
      ],
    });
    expect(res.status).to.equal(200);
    expect(res.data.outcome).to.equal("committed");
    expect((await account(cluster, "bank-a", alice)).balance).to.equal(995n);
    expect((await account(cluster, "bank-a", carol)).balance).to.equal(5n);
    const log = await http.get<TransactionDetail>(
      `${cluster.coordinator.url}/v1/transactions/${txidOf(res)}`,
    );
    expect(log.data.state).to.equal("committed");
    expect(log.data.events?.map((e) => e.type)).to.deep.equal(["begin", "decision", "end"]);
    // The participant's journal never saw a vote: there was no prepare.
    const status = await http.get<ParticipantStatus>(
      `${cluster.banks[0]?.participantUrl}/v1/2pc/${txidOf(res)}`,
    );
    expect(status.data.journal).to.equal(null);
    expect(status.data.outcome).to.equal("committed");
  });

  it("a participant whose operations are only reads votes read-only and leaves phase 2", async function () {
    const { cluster, alice, bob } = ctx;
    // Money moves inside bank-a (debits equal credits); the other banks only read.
    const carol = uniqueAccount("carol");
    await openAccount(cluster, "bank-a", carol, 0);
    const move = [
      { op: "debit", account: alice, amount: "1" },
      { op: "credit", account: carol, amount: "1" },
    ];
    const res = await http.post<RunAnswer>(`${cluster.coordinator.url}/v1/transactions`, {
      participants: [
        { name: "bank-a", operations: move },
        { name: "bank-b", operations: [{ op: "read", account: bob }] },
        { name: "bank-c", operations: [{ op: "read", account: "nobody-here" }] },
      ],
    });
    // bank-c knows no such account: the whole transaction aborts and the debit is undone.
    expect(res.data.outcome).to.equal("aborted");
    expect((await account(cluster, "bank-a", alice)).balance).to.equal(1000n);
    const ok = await http.post<RunAnswer>(`${cluster.coordinator.url}/v1/transactions`, {
      participants: [
        { name: "bank-a", operations: [{ op: "debit", account: alice, amount: "1" }] },
        {
          name: "bank-b",
          operations: [
            { op: "credit", account: bob, amount: "1" },
            { op: "read", account: bob },
          ],
        },
        { name: "bank-c", operations: [{ op: "read", account: "nobody-here" }] },
      ],
    });
    expect(ok.data.outcome).to.equal("aborted");
    const readOnly = await http.post<RunAnswer>(`${cluster.coordinator.url}/v1/transactions`, {
      participants: [
        { name: "bank-a", operations: move },
        { name: "bank-b", operations: [{ op: "read", account: bob }] },
      ],
    });
    expect(readOnly.data.outcome).to.equal("committed");
    const reader = readOnly.data.participants?.find((p) => p.name === "bank-b");
    expect(reader).to.include({ vote: "read-only", state: "read-only" });
    const log = await http.get<TransactionDetail>(
      `${cluster.coordinator.url}/v1/transactions/${txidOf(readOnly)}`,
    );
    const logged = log.data.participants?.find((p) => p.name === "bank-b");
    expect(logged).to.deep.equal({ name: "bank-b", vote: "read-only", acknowledgedAt: null });
    expect((await account(cluster, "bank-a", alice)).balance).to.equal(999n);
  });

  it("the query API lists transactions by state and shows one transaction's history", async function () {
    const { cluster, alice, bob } = ctx;
    const committed = await transfer(cluster, {
      from: { bank: "bank-a", account: alice },
      to: { bank: "bank-b", account: bob },
      amount: 1,
    });
    const aborted = await transfer(cluster, {
      from: { bank: "bank-a", account: alice },
      to: { bank: "bank-b", account: bob },
      amount: 100_000,
    });
    const listCommitted = await http.get<TransactionList>(
      `${cluster.coordinator.url}/v1/transactions?state=committed&limit=500`,
    );
    const listAborted = await http.get<TransactionList>(
      `${cluster.coordinator.url}/v1/transactions?state=aborted&limit=500`,
    );
    expect(listCommitted.data.transactions?.map((t) => t.txid))
      .to.include(committed.data.txid)
      .and.not.include(aborted.data.txid);
    expect(listAborted.data.transactions?.map((t) => t.txid))
      .to.include(aborted.data.txid)
      .and.not.include(committed.data.txid);
    const bad = await http.get<TransactionList>(
      `${cluster.coordinator.url}/v1/transactions?state=sideways`,
    );
    expect(bad.status).to.equal(400);
    expect(bad.data.error?.message).to.match(/state/);
  });
});
