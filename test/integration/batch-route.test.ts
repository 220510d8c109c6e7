import { expect } from "chai";
import { newTxid } from "../../shared/ids.js";
import {
  account,
  bankUrl,
  batchReplies,
  http,
  ledgerOf,
  openAccount,
  uniqueAccount,
} from "../support/bank-client.js";
import type { ParticipantStatus } from "../support/answers.js";
import { usePairPerTest } from "../support/cluster-fixture.js";

describe("a participant's batch route: several 2PC messages in one request, each answered as if alone", function () {
  const ctx = usePairPerTest({ bob: { bank: "bank-a" } });

  const batch = (messages: unknown[]) =>
    http.post(`${bankUrl(ctx.cluster, "bank-a")}/v1/2pc/batch`, { messages });
  const debit = (amount: string, who = ctx.alice) => ({
    operations: [{ op: "debit", account: who, amount }],
  });

  it("prepares, commits and aborts different transactions in one request, each with its own reply", async function () {
    const { cluster, alice, bob } = ctx;
    const [t1, t2, t3] = [newTxid(), newTxid(), newTxid()];
    const carol = uniqueAccount("carol");
    await openAccount(cluster, "bank-a", carol, 1000);
    const first = await batch([
      { txid: t1, action: "prepare", body: debit("100") },
      // Other accounts: a second debit of alice would meet t1's lock (and, younger, give up).
      { txid: t2, action: "prepare", body: debit("10", bob) },
      { txid: t3, action: "prepare", body: debit("5000", carol) },
    ]);
    expect(first.status).to.equal(200);
    expect(batchReplies(first).map((r) => [r.status, r.body.vote, r.body.reason])).to.deep.equal([
      [200, "yes", undefined],
      [200, "yes", undefined],
      [200, "no", "insufficient-funds"],
    ]);
    const second = await batch([
      { txid: t1, action: "commit", body: {} },
      { txid: t2, action: "abort", body: {} },
    ]);
    expect(batchReplies(second)).to.deep.equal([
      { status: 200, body: { txid: t1, state: "committed" } },
      { status: 200, body: { txid: t2, state: "aborted" } },
    ]);
    expect((await account(cluster, "bank-a", alice)).balance).to.equal(900n);
    expect((await account(cluster, "bank-a", bob)).balance).to.equal(1000n);
    expect(await ledgerOf(cluster, "bank-a", t1)).to.have.length(1);
    expect(await ledgerOf(cluster, "bank-a", t2)).to.have.length(0);
  });

  it("messages for one txid run in the order sent: PREPARE then ABORT leaves nothing prepared", async function () {
    const { cluster, alice } = ctx;
    const txid = newTxid();
    const res = await batch([
      { txid, action: "prepare", body: debit("100") },
      { txid, action: "abort", body: {} },
    ]);
    expect(batchReplies(res).map((r) => r.status)).to.deep.equal([200, 200]);
    expect(batchReplies(res)[0]?.body.vote).to.equal("yes");
    expect(batchReplies(res)[1]?.body).to.deep.equal({ txid, state: "aborted" });
    expect((await account(cluster, "bank-a", alice)).balance).to.equal(1000n);
  });

  it("a malformed message gets its own 4xx; the others in the batch still run", async function () {
    const { cluster, alice } = ctx;
    const good = newTxid();
    const res = await batch([
      { txid: good, action: "prepare", body: debit("100") },
      {
        txid: newTxid(),
        action: "prepare",
        body: { operations: [{ op: "debit", account: alice, amount: "-5" }] },
      },
      { txid: newTxid(), action: "commit", body: { unexpected: true } },
    ]);
    expect(res.status).to.equal(200);
    const [a, b, c] = batchReplies(res) as {
      status: number;
      body: { error?: { field?: string } };
    }[];
    expect(a?.status).to.equal(200);
    expect(b?.status).to.equal(400);
    expect(b?.body.error?.field).to.match(/^body\.messages\.1\.body/);
    expect(c?.status).to.equal(400);
    await batch([
      { txid: good, action: "abort", body: {} },
      { txid: newTxid(), action: "abort", body: {} },
    ]);
    expect((await account(cluster, "bank-a", alice)).balance).to.equal(1000n);
  });

  it("refuses a malformed batch as a whole with 400 and runs none of it", async function () {
    const { cluster, alice } = ctx;
    const txid = newTxid();
    const prepare = { txid, action: "prepare", body: debit("100") };
    for (const body of [
      { messages: [] },
      { messages: [prepare], extra: 1 },
      { messages: [{ ...prepare, action: "drop-table" }] },
      { messages: [{ ...prepare, txid: "x'; DROP TABLE accounts;--" }, prepare] },
    ]) {
      const res = await http.post(`${bankUrl(cluster, "bank-a")}/v1/2pc/batch`, body);
      expect(res.status, JSON.stringify(body)).to.equal(400);
    }
    const tooMany = Array.from({ length: 65 }, () => ({
      txid: newTxid(),
      action: "abort",
      body: {},
    }));
    expect((await batch(tooMany)).status).to.equal(400);
    expect((await account(cluster, "bank-a", alice)).balance).to.equal(1000n);
    expect(
      (await http.get<ParticipantStatus>(`${bankUrl(cluster, "bank-a")}/v1/2pc/${txid}`)).data
        .journal,
    ).to.equal(null);
  });
});
