import { expect } from "chai";
import { present, type RunAnswer } from "../support/answers.js";
import { http } from "../support/bank-client.js";
import { faultHarness, type FaultHarness } from "../support/fault-harness.js";
import { openPair } from "../support/fault-moves.js";

describe("consistent reads across banks", function () {
  this.timeout(120_000);
  let h: FaultHarness;

  before(async () => {
    h = await faultHarness();
  });

  it("consistent reads and transfers that lock each other across banks all finish (by lock timeout at worst), and every read sees the same total", async () => {
    const pair = await openPair(h, "bank-a", "bank-b", 1000);
    const a = pair.from.account;
    const b = pair.to.account;
    const read = () =>
      http.post<RunAnswer>(`${h.url("coordinator")}/v1/transactions`, {
        participants: [
          { name: "bank-a", operations: [{ op: "read", account: a, hold: true }] },
          { name: "bank-b", operations: [{ op: "read", account: b, hold: true }] },
        ],
      });
    // Transfers in both directions: each takes a row lock at one bank while a read holds a
    // share lock on the other's row, in the opposite order at the other bank.
    const move = (from: string, fromBank: string, to: string, toBank: string) =>
      http.post<RunAnswer>(`${h.url("coordinator")}/v1/transactions`, {
        participants: [
          { name: fromBank, operations: [{ op: "debit", account: from, amount: "7" }] },
          { name: toBank, operations: [{ op: "credit", account: to, amount: "7" }] },
        ],
      });
    const requests = [];
    for (let i = 0; i < 20; i++) {
      requests.push(read());
      requests.push(i % 2 ? move(a, "bank-a", b, "bank-b") : move(b, "bank-b", a, "bank-a"));
    }
    const results = await Promise.all(requests);
    expect(
      results.every((r) => r.status === 200),
      JSON.stringify(results.find((r) => r.status !== 200)?.data),
    ).to.equal(true);
    const reasons = new Set(
      results
        .filter((r) => r.data.outcome === "aborted")
        .flatMap((r) =>
          present(r.data.participants, "participants")
            .map((p) => p.reason)
            .filter(Boolean),
        ),
    );
    for (const reason of reasons)
      expect(["lock-timeout", "deadline-passed", "statement-timeout"]).to.include(reason);
    const totals = results
      .filter((r, i) => i % 2 === 0 && r.data.outcome === "committed")
      .map((r) =>
        present(r.data.participants, "participants").reduce(
          (sum, p) => sum + BigInt(present(p.results, "results")[0]?.balance ?? "0"),
          0n,
        ),
      );
    expect(totals.length).to.be.greaterThan(0);
    for (const total of totals) expect(total).to.equal(2000n);
    await h.verify();
  });
});
