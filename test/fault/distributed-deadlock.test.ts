import { expect } from "chai";
import type { AxiosResponse } from "axios";
import type { AttemptSummary as Attempt } from "../../coordinator/series.js";
import { present, type RunAnswer, type TransactionDetail } from "../support/answers.js";
import { http, ledgerOf, openAccount, uniqueAccount } from "../support/bank-client.js";
import { useFaultHarness, type FaultHarness } from "../support/fault-harness.js";

/**
 * Two transfers that lock the same two rows in opposite orders at two banks: the cycle no single
 * PostgreSQL can see. A failpoint holds each transaction's second PREPARE until its first is
 * answered, so that each has locked a row at one bank before it asks for the other's: the cycle
 * forms every time. Wait-die refuses the younger at once ("conflict"); it is run again, in order,
 * and both commit. Neither waits for a lock timeout.
 */
describe("distributed deadlocks are refused at once, and both transfers commit (failpoints order the PREPAREs)", function () {
  this.timeout(120_000);
  let h: FaultHarness;
  useFaultHarness((harness) => (h = harness));

  async function cycle(
    label: string,
    bodies: (a: string, b: string) => [unknown, unknown],
  ): Promise<void> {
    const a = uniqueAccount("cyc");
    const b = uniqueAccount("cyc");
    await openAccount(h.cluster, "bank-a", a, 1000);
    await openAccount(h.cluster, "bank-b", b, 1000);
    // Each transaction's first PREPARE is answered, then it waits before sending its second:
    // both hold their first row when they ask for the other's.
    await h.arm("coordinator", "coordinator.between-prepares", {
      action: "sleep",
      ms: 400,
      count: 2,
    });
    const [first, second] = bodies(a, b);
    const keys = [`${label}-1-${a}`, `${label}-2-${a}`].map((k) =>
      k.replace(/[^A-Za-z0-9._:-]/g, "-"),
    );
    const send = (body: unknown, key: string) =>
      http.post<RunAnswer>(`${h.url("coordinator")}/v1/transactions`, body, {
        headers: { "idempotency-key": key },
      });
    const results: AxiosResponse<RunAnswer>[] = await Promise.all([
      send(first, keys[0] as string),
      send(second, keys[1] as string),
    ]);
    for (const r of results) {
      expect(r.data.outcome, `${label}: ${JSON.stringify(r.data).slice(0, 400)}`).to.equal(
        "committed",
      );
      h.record(r.data.txid, "committed");
    }
    const attempts = results.map((r) => present(r.data.attempts, "attempts"));
    // One of the two met the other's row first-hand and was refused at once; the other never was.
    const retried = attempts.filter((x) => x.length > 1);
    expect(retried, `${label}: ${JSON.stringify(attempts)}`).to.have.length(1);
    const [refusedFirst] = retried[0] as Attempt[];
    expect(refusedFirst?.outcome).to.equal("aborted");
    expect(refusedFirst?.reason, label).to.match(/: conflict$/);
    expect(
      attempts
        .flat()
        .map((x) => x.reason ?? "")
        .filter((reason) => /lock-timeout|statement-timeout/.test(reason)),
    ).to.deep.equal([]);
    // The refused attempt had prepared at its first bank; it was rolled back everywhere.
    for (const bank of ["bank-a", "bank-b"])
      expect(
        await ledgerOf(h.cluster, bank, refusedFirst?.txid as string),
        `${bank} ledger of the refused attempt`,
      ).to.deep.equal([]);
    // The attempts are linked in the log, and queryable.
    const chain = retried[0] as Attempt[];
    for (const [i, attempt] of chain.entries()) {
      const record = (
        await http.get<TransactionDetail>(`${h.url("coordinator")}/v1/transactions/${attempt.txid}`)
      ).data;
      expect(record).to.deep.include({
        attempt: i + 1,
        series: chain[0]?.txid,
        previousAttempt: chain[i - 1]?.txid ?? null,
        nextAttempt: chain[i + 1]?.txid ?? null,
      });
    }
    // An Idempotency-Key covers the whole series: the client's retry gets the final answer, and
    // starts nothing.
    const index = attempts.indexOf(chain);
    const replay = await send(index === 0 ? first : second, keys[index] as string);
    expect(replay.headers["idempotent-replayed"]).to.equal("true");
    expect(replay.data.txid).to.equal(results[index]?.data.txid);
    expect(replay.data.outcome).to.equal("committed");
    expect(replay.data.attempts?.map((x) => x.txid)).to.deep.equal(chain.map((x) => x.txid));
    // The checker: atomicity, conservation, agreement with the log, and nothing left prepared.
    await h.verify();
  }

  it("opposite directions: a -> b and b -> a at the same time", async () => {
    await cycle("opposite", (a, b) => [
      {
        participants: [
          { name: "bank-a", operations: [{ op: "debit", account: a, amount: "10" }] },
          { name: "bank-b", operations: [{ op: "credit", account: b, amount: "10" }] },
        ],
        timeoutMs: 20_000,
      },
      {
        participants: [
          { name: "bank-b", operations: [{ op: "debit", account: b, amount: "7" }] },
          { name: "bank-a", operations: [{ op: "credit", account: a, amount: "7" }] },
        ],
        timeoutMs: 20_000,
      },
    ]);
  });

  it("the same direction, with the participants listed in opposite orders (so the first PREPAREs go to different banks)", async () => {
    await cycle("same direction", (a, b) => [
      {
        participants: [
          { name: "bank-a", operations: [{ op: "debit", account: a, amount: "10" }] },
          { name: "bank-b", operations: [{ op: "credit", account: b, amount: "10" }] },
        ],
        timeoutMs: 20_000,
      },
      {
        participants: [
          { name: "bank-b", operations: [{ op: "credit", account: b, amount: "5" }] },
          { name: "bank-a", operations: [{ op: "debit", account: a, amount: "5" }] },
        ],
        timeoutMs: 20_000,
      },
    ]);
  });
});
