import { expect } from "chai";
import { sleep } from "../../shared/clock.js";
import { useFaultHarness, type FaultHarness } from "../support/fault-harness.js";
import { balanceOf, openPair, preparedAt, transferThroughFaults } from "../support/fault-moves.js";

describe("participants in doubt (processes really stopped and killed)", function () {
  this.timeout(120_000);
  let h: FaultHarness;

  useFaultHarness((harness) => (h = harness));

  it("prepared participants cut off from the coordinator stay prepared, never guess, and follow the decision after healing", async () => {
    const spec = await openPair(h);
    await h.arm("coordinator", "coordinator.after-votes", { action: "sleep", ms: 800, count: 1 });
    const pending = transferThroughFaults(h, spec);
    await h.eventually(
      "both banks prepared",
      async () =>
        (await preparedAt(h, "bank-a")).length === 1 &&
        (await preparedAt(h, "bank-b")).length === 1,
    );
    h.signal("coordinator", "SIGSTOP");
    // Several recovery passes go by: each asks the (stopped) coordinator and the peers, who are
    // in doubt too. Nobody may decide on their own.
    await sleep(4000);
    expect(await preparedAt(h, "bank-a")).to.have.length(1);
    expect(await preparedAt(h, "bank-b")).to.have.length(1);
    h.signal("coordinator", "SIGCONT");
    const res = await pending;
    expect(res?.data.outcome).to.equal("committed");
    await h.verify();
    expect(await balanceOf(h, "bank-b", spec.to.account)).to.equal(1100n);
  });

  it("coordinator killed after the decision reached only one participant: the other learns it from that peer", async () => {
    const spec = await openPair(h);
    await h.arm("coordinator", "coordinator.after-first-commit", { action: "crash", count: 1 });
    await transferThroughFaults(h, spec);
    await h.waitDead("coordinator");
    await h.eventually(
      "bank-b committed, told by its peer bank-a",
      async () => (await preparedAt(h, "bank-b")).length === 0,
    );
    expect(h.isRunning("coordinator")).to.equal(false);
    expect(await balanceOf(h, "bank-b", spec.to.account)).to.equal(1100n);
    expect(await balanceOf(h, "bank-a", spec.from.account)).to.equal(900n);
    await h.restart("coordinator");
    await h.verify();
  });
});
