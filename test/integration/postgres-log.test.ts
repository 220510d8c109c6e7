import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { expect } from "chai";
import { transfer } from "../support/bank-client.js";
import { usePairPerTest } from "../support/cluster-fixture.js";

/** What the bank's PostgreSQL wrote to its log since `offset` bytes. */
function logSince(dir: string, bank: string, offset: number): string {
  return readFileSync(join(dir, "logs", `postgres-${bank}.log`))
    .subarray(offset)
    .toString("utf8");
}

describe("PostgreSQL logs a refusal in one line, without the statement batch", function () {
  const ctx = usePairPerTest({ alice: { balance: 10 } });

  it("refused transfers (insufficient funds) leave ERROR lines and no STATEMENT or DETAIL", async function () {
    const { cluster, alice, bob } = ctx;
    const file = join(cluster.dir, "logs", "postgres-bank-a.log");
    const offset = statSync(file).size;
    for (let i = 0; i < 3; i++) {
      const res = await transfer(cluster, {
        from: { bank: "bank-a", account: alice },
        to: { bank: "bank-b", account: bob },
        amount: 1000,
      });
      expect(res.data.outcome).to.equal("aborted");
      expect(res.data.reason ?? "").to.include("insufficient-funds");
    }
    const written = logSince(cluster.dir, "bank-a", offset);
    const lines = written.split("\n").filter(Boolean);
    expect(lines.filter((l) => l.includes("ERROR:")).length, written).to.equal(3);
    expect(
      lines.filter((l) => /STATEMENT:|DETAIL:/.test(l)),
      written,
    ).to.deep.equal([]);
    // One line per refusal: no continuation lines of a statement either.
    expect(
      lines.filter((l) => /^\s/.test(l)),
      written,
    ).to.deep.equal([]);
  });
});
