import { expect } from "chai";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { removeOutsideData } from "../../scripts/cluster/postgres.js";
import { chaosSummary } from "../../scripts/chaos/report.js";
import { runChaos } from "../../scripts/chaos/runner.js";
import { drawSchedule, FAULT_KINDS } from "../../scripts/chaos/schedule.js";

describe("chaos (processes killed, paused, failpoints fired and the network broken on a seeded schedule)", function () {
  it("the same seed draws the same fault schedule", () => {
    const draw = (seed: number) =>
      drawSchedule({
        seed,
        durationMs: 120_000,
        kinds: FAULT_KINDS,
        topology: { banks: ["bank-a", "bank-b", "bank-c"] },
      });
    expect(draw(7)).to.deep.equal(draw(7));
    expect(draw(7)).to.not.deep.equal(draw(8));
    expect(new Set(draw(7).map((f) => f.kind)).size).to.be.greaterThan(1);
  });

  it("a 60-second run with every fault kind ends with every invariant holding and nothing left prepared", async function () {
    this.timeout(600_000);
    const dir = mkdtempSync(join(tmpdir(), "concord-chaos-"));
    try {
      const report = await runChaos({
        seed: 7,
        durationSeconds: 60,
        faultKinds: [...FAULT_KINDS],
        banks: 3,
        // Orders (two banks and the inventory in one transaction) run beside the transfers, and
        // the inventory's processes and stores are among the fault targets.
        inventory: 1,
        concurrency: 8,
        dir,
        keepRunning: false,
        log: () => undefined,
      });
      expect(report.ok, chaosSummary(report)).to.equal(true);
      expect(report.faults.length).to.be.greaterThan(5);
      expect(report.transfers.committed).to.be.greaterThan(0);
      expect(report.orders?.committed ?? 0, "orders committed").to.be.greaterThan(0);
      expect(report.checker.invariants.map((i) => i.name)).to.include.members([
        "stock accounted for (inventory)",
      ]);
      expect(report.checker.summary.prepared).to.equal(0);
      expect(report.recoverySeconds).to.not.equal(null);
      // Under write load a read wins by age (wait-die); what stops one is a fault (a bank paused,
      // killed or cut off for longer than the read's retries). How many the faults cut off
      // depends on how long restarts take on the machine, so the exact count is the chaos
      // report's (docs/chaos-reports); here a clear majority must commit. The contention
      // property itself, reads committing under constant writes, is test/integration/contention.
      const reads = report.consistentReads;
      expect(
        reads.committed * 4,
        `${reads.committed}/${reads.attempted} consistent reads committed: ${JSON.stringify(reads.failures)}`,
      ).to.be.at.least(reads.attempted * 3);
    } finally {
      removeOutsideData(dir);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
