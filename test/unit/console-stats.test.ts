/**
 * The console's pure pieces, run in Node: rates and latency quantiles from two stats snapshots,
 * and the one function that turns the transaction filters into a request.
 */
import { expect } from "chai";
import { pointBetween, quantile, type StatsSnapshot } from "../../coordinator/console/app/stats.js";
import { DEFAULT_FILTERS, transactionsQuery } from "../../coordinator/console/app/query.js";

const buckets = (counts: [string, number][]) => counts.map(([le, count]) => ({ le, count }));

function snapshot(at: string, committed: number, e2e: [string, number][]): StatsSnapshot {
  return {
    at,
    uptimeSeconds: Date.parse(at) / 1000,
    transactions: { committed, aborted: 2, unknown: 0 },
    abortsByReason: { "insufficient-funds": 2 },
    retries: { total: 1 },
    inFlight: 3,
    inDoubt: { undecided: 1, unacked: 0 },
    latency: { end_to_end: { count: 0, sum: 0, buckets: buckets(e2e) } },
  };
}

describe("console: rates and quantiles from stats snapshots", function () {
  it("takes the quantile of the observations between two snapshots, interpolated in its bucket", function () {
    const before = buckets([
      ["0.01", 10],
      ["0.1", 10],
      ["+Inf", 10],
    ]);
    // Since then: 10 more at most 0.01 s, 10 between 0.01 s and 0.1 s.
    const after = buckets([
      ["0.01", 20],
      ["0.1", 30],
      ["+Inf", 30],
    ]);
    expect(quantile(0.5, before, after)).to.be.closeTo(0.01, 1e-9);
    expect(quantile(0.25, before, after)).to.be.closeTo(0.005, 1e-9);
    expect(quantile(0.75, before, after)).to.be.closeTo(0.055, 1e-9);
    expect(quantile(0.5, after, after), "nothing observed in between").to.equal(undefined);
    const slow = buckets([
      ["0.01", 20],
      ["0.1", 30],
      ["+Inf", 40],
    ]);
    expect(quantile(0.99, after, slow), "beyond the last bound").to.equal(0.1);
  });

  it("makes rates per second from counter differences, and nothing across a restart", function () {
    const a = snapshot("2026-01-01T00:00:00.000Z", 100, [
      ["1", 0],
      ["+Inf", 0],
    ]);
    const b = snapshot("2026-01-01T00:00:02.000Z", 110, [
      ["1", 4],
      ["+Inf", 4],
    ]);
    const p = pointBetween(a, b);
    expect(p?.committedPerSec).to.equal(5);
    expect(p?.abortedPerSec).to.equal(0);
    expect(p?.p50.end_to_end).to.equal(0.5);
    expect(p?.inFlight).to.equal(3);
    expect(pointBetween(b, { ...a, at: "2026-01-01T00:00:04.000Z", uptimeSeconds: 1 })).to.equal(
      undefined,
    );
  });
});

describe("console: the transaction list's query", function () {
  it("sends every filter to the server, the age as an until time", function () {
    const { path, keep } = transactionsQuery(
      {
        ...DEFAULT_FILTERS,
        state: "aborted",
        participant: "bank-a",
        reason: "funds",
        olderThanSeconds: 60,
      },
      Date.parse("2026-01-01T00:10:00.000Z"),
    );
    expect(path).to.equal(
      "/v1/transactions?state=aborted&participant=bank-a&reason=funds&until=2026-01-01T00%3A09%3A00.000Z&limit=50",
    );
    // The server filtered the page: nothing is left to drop in the browser.
    expect(
      keep({
        txid: "t",
        state: "aborted",
        decision: "abort",
        reason: null,
        participants: ["bank-b"],
        createdAt: "2026-01-01T00:09:30.000Z",
      }),
    ).to.equal(true);
  });
});
