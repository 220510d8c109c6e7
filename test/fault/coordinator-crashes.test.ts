import { expect } from "chai";
import { useFaultHarness, type FaultHarness } from "../support/fault-harness.js";
import {
  balanceOf,
  ledgerEntriesOf,
  openPair,
  preparedAt,
  transferThroughFaults,
} from "../support/fault-moves.js";
import { http } from "../support/bank-client.js";

describe("the coordinator killed at each protocol step (processes really killed)", function () {
  this.timeout(120_000);
  let h: FaultHarness;

  useFaultHarness((harness) => (h = harness));

  it("coordinator killed after some prepares: presumed abort rolls back the participant that prepared", async () => {
    const spec = await openPair(h);
    await h.arm("coordinator", "coordinator.between-prepares", { action: "crash", count: 1 });
    const res = await transferThroughFaults(h, spec, { timeoutMs: 1000 });
    expect(res).to.equal(undefined);
    await h.waitDead("coordinator");
    expect(
      (await preparedAt(h, "bank-a")).length + (await preparedAt(h, "bank-b")).length,
    ).to.equal(1);
    await h.restart("coordinator");
    await h.verify();
    expect(await balanceOf(h, "bank-a", spec.from.account)).to.equal(1000n);
    expect(await balanceOf(h, "bank-b", spec.to.account)).to.equal(1000n);
  });

  it("coordinator killed after the decision is logged, before phase 2: recovery commits everywhere and the client's retry says committed", async () => {
    const spec = await openPair(h);
    await h.arm("coordinator", "coordinator.after-decision", { action: "crash", count: 1 });
    const key = `after-decision-${spec.from.account}`;
    expect(await transferThroughFaults(h, spec, { key })).to.equal(undefined);
    await h.waitDead("coordinator");
    expect(await preparedAt(h, "bank-a")).to.have.length(1);
    expect(await preparedAt(h, "bank-b")).to.have.length(1);
    await h.restart("coordinator");
    const retry = await transferThroughFaults(h, spec, { key });
    expect(retry?.status).to.equal(200);
    expect(retry?.data.outcome).to.equal("committed");
    const query = await http.get(`${h.url("coordinator")}/v1/transactions/${retry?.data.txid}`);
    expect(query.data.decision).to.equal("commit");
    await h.verify();
    expect(await balanceOf(h, "bank-a", spec.from.account)).to.equal(900n);
    expect(await balanceOf(h, "bank-b", spec.to.account)).to.equal(1100n);
    expect(await ledgerEntriesOf(h, "bank-b", spec.to.account)).to.have.length(1);
  });

  it("coordinator killed after the first COMMIT: recovery commits at the other participant", async () => {
    const spec = await openPair(h);
    await h.arm("coordinator", "coordinator.after-first-commit", { action: "crash", count: 1 });
    expect(await transferThroughFaults(h, spec)).to.equal(undefined);
    await h.waitDead("coordinator");
    await h.restart("coordinator");
    await h.verify();
    expect(await balanceOf(h, "bank-a", spec.from.account)).to.equal(900n);
    expect(await balanceOf(h, "bank-b", spec.to.account)).to.equal(1100n);
  });

  it("recovery itself killed half-way, then run again, finishes the transaction once", async () => {
    const spec = await openPair(h);
    await h.arm("coordinator", "coordinator.after-decision", { action: "crash", count: 1 });
    await transferThroughFaults(h, spec);
    await h.waitDead("coordinator");
    // The restarted coordinator's recovery sends COMMIT to one participant and dies.
    await h.startExpectingCrash("coordinator", {
      CONCORD_FAILPOINTS: "coordinator.recovery-after-first-send=crash#1",
    });
    await h.restart("coordinator");
    await h.verify();
    expect(await ledgerEntriesOf(h, "bank-a", spec.from.account)).to.have.length(1);
    expect(await ledgerEntriesOf(h, "bank-b", spec.to.account)).to.have.length(1);
    expect(await balanceOf(h, "bank-b", spec.to.account)).to.equal(1100n);
  });
});
