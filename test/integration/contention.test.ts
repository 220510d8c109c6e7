import { expect } from "chai";
import { adminSecretOf } from "../../scripts/cluster/cluster-file.js";
import {
  account,
  http,
  openAccount,
  preparedLeft,
  settled,
  snapshot,
  uniqueAccount,
} from "../support/bank-client.js";
import { present, type RunAnswer } from "../support/answers.js";
import { sharedCluster } from "../support/cluster-fixture.js";
import type { ClusterFile } from "../../scripts/cluster/cluster-file.js";

/** One transfer of `amount` from (bank, account) to (bank, account), as a client. */
function move(cluster: ClusterFile, from: [string, string], to: [string, string], amount = 1) {
  return http.post<RunAnswer>(`${cluster.coordinator.url}/v1/transactions`, {
    participants: [
      { name: from[0], operations: [{ op: "debit", account: from[1], amount: String(amount) }] },
      { name: to[0], operations: [{ op: "credit", account: to[1], amount: String(amount) }] },
    ],
  });
}

/**
 * Transactions over the same rows at two banks take their turn and commit: a distributed
 * deadlock is refused the moment it would form (wait-die by age), the younger transaction is run
 * again in order, and nothing waits for a lock timeout.
 */
describe("contention: hot rows across banks commit instead of deadlocking", function () {
  let cluster: ClusterFile;

  before(async function () {
    this.timeout(120_000);
    cluster = await sharedCluster();
  });

  afterEach(async function () {
    await settled(cluster);
    expect(await preparedLeft(cluster), "prepared transactions left behind").to.equal(0);
  });

  it("a hot pair at concurrency 8, both directions mixed: every transfer commits and the total is conserved", async function () {
    this.timeout(120_000);
    const a = uniqueAccount("hot");
    const b = uniqueAccount("hot");
    await openAccount(cluster, "bank-a", a, 10_000);
    await openAccount(cluster, "bank-b", b, 10_000);
    const before = await snapshot(cluster);
    const outcomes: { outcome: RunAnswer["outcome"]; attempts: { reason?: string }[] }[] = [];
    const worker = async (w: number) => {
      for (let i = 0; i < 12; i++) {
        const forward = (w + i) % 2 === 0;
        const res = await (forward
          ? move(cluster, ["bank-a", a], ["bank-b", b])
          : move(cluster, ["bank-b", b], ["bank-a", a]));
        outcomes.push({ outcome: res.data.outcome, attempts: res.data.attempts ?? [] });
      }
    };
    await Promise.all(Array.from({ length: 8 }, (_, w) => worker(w)));
    const failed = outcomes.filter((o) => o.outcome !== "committed");
    expect(failed, JSON.stringify(failed.slice(0, 3))).to.deep.equal([]);
    expect(outcomes).to.have.length(96);
    // No attempt ended on a lock timeout: conflicts were refused at once and run again.
    const reasons = outcomes.flatMap((o) => o.attempts.map((x) => x.reason ?? ""));
    expect(reasons.filter((r) => r.includes("lock-timeout"))).to.deep.equal([]);
    await settled(cluster);
    const after = await snapshot(cluster);
    expect(after.total).to.equal(before.total);
    // As many moves each way as the workers made: 48 forward, 48 back.
    expect((await account(cluster, "bank-a", a)).balance).to.equal(10_000n);
    expect((await account(cluster, "bank-b", b)).balance).to.equal(10_000n);
  });

  it("a consistent read over accounts under constant writes commits within its deadline, and sees the true total", async function () {
    this.timeout(120_000);
    const ids = Array.from({ length: 3 }, () => [uniqueAccount("r"), uniqueAccount("r")] as const);
    for (const [x, y] of ids) {
      await openAccount(cluster, "bank-a", x, 1000);
      await openAccount(cluster, "bank-b", y, 1000);
    }
    let writing = true;
    const writer = async (w: number) => {
      for (let i = 0; writing; i++) {
        const [x, y] = ids[(w + i) % ids.length] as readonly [string, string];
        await (i % 2 === 0
          ? move(cluster, ["bank-a", x], ["bank-b", y])
          : move(cluster, ["bank-b", y], ["bank-a", x]));
      }
    };
    const writers = Array.from({ length: 6 }, (_, w) => writer(w));
    const operator = { authorization: `Bearer ${adminSecretOf(cluster, "coordinator")}` };
    const body = {
      participants: [
        { name: "bank-a", operations: ids.map(([x]) => ({ op: "read", account: x, hold: true })) },
        {
          name: "bank-b",
          operations: ids.map(([, y]) => ({ op: "read", account: y, hold: true })),
        },
      ],
      timeoutMs: 5000,
    };
    try {
      for (let r = 0; r < 5; r++) {
        const res = await http.post<RunAnswer>(`${cluster.coordinator.url}/v1/transactions`, body, {
          headers: operator,
        });
        expect(res.data.outcome, JSON.stringify(res.data).slice(0, 300)).to.equal("committed");
        const total = present(res.data.participants, "participants")
          .flatMap((p) => present(p.results, "results"))
          .reduce((s, x) => s + BigInt(x.balance), 0n);
        expect(total).to.equal(6000n);
      }
    } finally {
      writing = false;
      await Promise.all(writers);
    }
  });
});
