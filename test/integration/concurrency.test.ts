import { expect } from "chai";
import type { ClusterFile } from "../../scripts/cluster/cluster-file.js";
import {
  ledgerOf,
  openAccount,
  preparedLeft,
  settled,
  snapshot,
  transfer,
  uniqueAccount,
} from "../support/bank-client.js";
import { txidOf } from "../support/answers.js";
import { sharedCluster } from "../support/cluster-fixture.js";

describe("concurrent transfers", function () {
  let cluster: ClusterFile;

  before(async function () {
    this.timeout(120_000);
    cluster = await sharedCluster();
  });

  it("200 concurrent transfers between random accounts conserve the total, are atomic, and leave nothing prepared", async function () {
    this.timeout(180_000);
    const accounts: { bank: string; account: string }[] = [];
    for (const bank of ["bank-a", "bank-b", "bank-c"]) {
      for (let i = 0; i < 10; i++) {
        const id = uniqueAccount(`acct-${bank}`);
        await openAccount(cluster, bank, id, 500);
        accounts.push({ bank, account: id });
      }
    }
    const before = await snapshot(cluster);
    // A fixed-seed generator: the same transfers on every run.
    let seed = 42;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const pick = () =>
      accounts[Math.floor(random() * accounts.length)] as { bank: string; account: string };
    const transfers = Array.from({ length: 200 }, () => {
      let from = pick();
      let to = pick();
      while (to.bank === from.bank) to = pick();
      [from, to] = random() < 0.5 ? [from, to] : [to, from];
      // Some amounts exceed any balance and must abort.
      return { from, to, amount: random() < 0.15 ? 5000 : 1 + Math.floor(random() * 120) };
    });
    const results = await Promise.all(transfers.map((t) => transfer(cluster, t)));

    expect(results.every((r) => r.status === 200)).to.equal(
      true,
      JSON.stringify(results.find((r) => r.status !== 200)?.data),
    );
    const committed = results.filter((r) => r.data.outcome === "committed");
    const aborted = results.filter((r) => r.data.outcome === "aborted");
    expect(committed.length + aborted.length).to.equal(200);
    expect(committed.length).to.be.greaterThan(0);
    expect(aborted.length).to.be.greaterThan(0);

    await settled(cluster);
    const after = await snapshot(cluster);
    expect(after.total).to.equal(before.total);
    for (const balance of after.perAccount.values()) expect(balance >= 0n).to.equal(true);
    expect(await preparedLeft(cluster)).to.equal(0);

    // Atomicity: a committed transfer has its debit and its credit; an aborted one has neither.
    for (const [i, r] of results.entries()) {
      const t = transfers[i] as (typeof transfers)[number];
      const debit = await ledgerOf(cluster, t.from.bank, txidOf(r));
      const credit = await ledgerOf(cluster, t.to.bank, txidOf(r));
      if (r.data.outcome === "committed") {
        expect(debit).to.deep.equal([{ account: t.from.account, delta: -BigInt(t.amount) }]);
        expect(credit).to.deep.equal([{ account: t.to.account, delta: BigInt(t.amount) }]);
      } else {
        expect(debit).to.deep.equal([]);
        expect(credit).to.deep.equal([]);
      }
    }
    expect(after.ledgerEntries - before.ledgerEntries).to.equal(committed.length * 2);
  });
});
