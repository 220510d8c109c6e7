import { expect } from "chai";
import { useFaultHarness, type FaultHarness } from "../support/fault-harness.js";
import {
  balanceOf,
  ledgerEntriesOf,
  openPair,
  preparedAt,
  transferThroughFaults,
} from "../support/fault-moves.js";

describe("participants killed at each protocol step (processes really killed)", function () {
  this.timeout(120_000);
  let h: FaultHarness;

  useFaultHarness((harness) => (h = harness));

  it("participant killed before prepare: the transfer aborts, and after restart nothing moved", async () => {
    const spec = await openPair(h);
    await h.arm("bank-b", "participant.before-prepare", { action: "crash", count: 1 });
    const res = await transferThroughFaults(h, spec);
    expect(res?.data.outcome).to.equal("aborted");
    await h.waitDead("bank-b");
    await h.restart("bank-b");
    await h.verify();
    expect(await balanceOf(h, "bank-a", spec.from.account)).to.equal(1000n);
    expect(await balanceOf(h, "bank-b", spec.to.account)).to.equal(1000n);
  });

  it("participant killed after PREPARE TRANSACTION, before its vote: recovery rolls the prepared transaction back", async () => {
    const spec = await openPair(h);
    await h.arm("bank-b", "participant.after-prepare", { action: "crash", count: 1 });
    const res = await transferThroughFaults(h, spec);
    expect(res?.data.outcome).to.equal("aborted");
    await h.waitDead("bank-b");
    // It died holding a prepared transaction that nobody will ever commit.
    expect(await preparedAt(h, "bank-b")).to.have.length(1);
    await h.restart("bank-b");
    await h.verify();
    expect(await preparedAt(h, "bank-b")).to.deep.equal([]);
    expect(await balanceOf(h, "bank-b", spec.to.account)).to.equal(1000n);
  });

  it("participant down during phase 2: it receives the decision when it comes back, and applies it exactly once", async () => {
    const spec = await openPair(h);
    await h.arm("coordinator", "coordinator.after-decision", {
      action: "sleep",
      ms: 1500,
      count: 1,
    });
    const pending = transferThroughFaults(h, spec);
    await h.eventually(
      "both banks prepared",
      async () =>
        (await preparedAt(h, "bank-b")).length === 1 &&
        (await preparedAt(h, "bank-a")).length === 1,
    );
    h.signal("bank-b", "SIGKILL");
    await h.waitDead("bank-b");
    const res = await pending;
    expect(res?.data.outcome).to.equal("committed");
    await h.restart("bank-b");
    await h.verify();
    expect(await ledgerEntriesOf(h, "bank-b", spec.to.account)).to.have.length(1);
    expect(await balanceOf(h, "bank-b", spec.to.account)).to.equal(1100n);
    expect(await balanceOf(h, "bank-a", spec.from.account)).to.equal(900n);
  });

  it("COMMIT applied but its reply lost: the coordinator retries and the transfer is applied once", async () => {
    const spec = await openPair(h);
    await h.arm("bank-b", "participant.after-commit-prepared", { action: "error", count: 1 });
    const res = await transferThroughFaults(h, spec);
    expect(res?.data.outcome).to.equal("committed");
    await h.verify();
    expect(await ledgerEntriesOf(h, "bank-b", spec.to.account)).to.have.length(1);
    expect(await balanceOf(h, "bank-b", spec.to.account)).to.equal(1100n);
  });

  it("participant killed between journaling COMMIT and COMMIT PREPARED finishes on restart with the coordinator down", async () => {
    const spec = await openPair(h);
    await h.arm("bank-b", "participant.before-commit-prepared", { action: "crash", count: 1 });
    const pending = transferThroughFaults(h, spec);
    await h.waitDead("bank-b");
    h.signal("coordinator", "SIGKILL");
    await h.waitDead("coordinator");
    await pending;
    expect(await preparedAt(h, "bank-b")).to.have.length(1);
    await h.restart("bank-b");
    // With the coordinator still down, the journal alone tells bank-b to commit.
    await h.eventually(
      "bank-b committed from its journal",
      async () => (await preparedAt(h, "bank-b")).length === 0,
    );
    expect(h.isRunning("coordinator")).to.equal(false);
    expect(await balanceOf(h, "bank-b", spec.to.account)).to.equal(1100n);
    await h.restart("coordinator");
    await h.verify();
    expect(await ledgerEntriesOf(h, "bank-b", spec.to.account)).to.have.length(1);
  });
});
