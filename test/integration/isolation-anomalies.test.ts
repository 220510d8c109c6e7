import { expect } from "chai";
import type { ClusterFile } from "../../scripts/cluster/cluster-file.js";
import { formatAnomalyReport } from "../../scripts/isolation/anomaly-report.js";
import { LABELS } from "../../scripts/isolation/documented.js";
import { runWorkload } from "../../scripts/isolation/workload.js";
import { ISOLATION_LEVELS } from "../../shared/isolation.js";
import { onIsolationCluster } from "../support/isolation-cluster.js";

/**
 * The isolation workload at each level (transfers, plain and hold reads across two banks,
 * repeated reads, concurrent debits of linked accounts), its history checked for lost updates,
 * fractured reads, non-repeatable reads and write skew: every anomaly found must be one that
 * docs/isolation.md allows at that level (scripts/isolation/documented.ts), none beyond.
 */
describe("isolation anomalies: what the checker finds is what the documentation allows", function () {
  let cluster: ClusterFile;

  const started = onIsolationCluster();
  before(function () {
    cluster = started();
  });

  for (const [i, level] of ISOLATION_LEVELS.entries())
    it(`at ${level}: no anomaly beyond the documented ones, and the history is sound`, async function () {
      this.timeout(300_000);
      const run = await runWorkload({
        cluster,
        level,
        seed: 20 + i,
        workers: 6,
        steps: 24,
        prefix: `anomalies-${level}-${Date.now().toString(36)}`,
      });
      const report = formatAnomalyReport(run.result, level);
      expect(run.undocumented, report).to.deep.equal([]);
      expect(
        run.result.anomalies.filter((a) => a.kind === "invalid-history"),
        report,
      ).to.deep.equal([]);
      expect(run.result.indeterminate, report).to.deep.equal([]);
      // The workload did what it is for: every kind of request ran and committed.
      for (const label of Object.values(LABELS))
        expect(
          run.requests[label]?.committed ?? 0,
          `${label}: ${JSON.stringify(run.requests)}`,
        ).to.be.greaterThan(0);
    });
});
