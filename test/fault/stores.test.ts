import { expect } from "chai";
import { useFaultHarness, type FaultHarness } from "../support/fault-harness.js";
import {
  balanceOf,
  ledgerEntriesOf,
  listed,
  openPair,
  preparedAt,
  transferThroughFaults,
} from "../support/fault-moves.js";
import { http, transferBody } from "../support/bank-client.js";

describe("Redis and PostgreSQL killed (processes really killed)", function () {
  this.timeout(120_000);
  let h: FaultHarness;

  useFaultHarness((harness) => (h = harness));

  it("Redis killed right after a decision: the decision survives, clients get a clear error while it is down, and recovery finishes", async () => {
    const spec = await openPair(h);
    await h.arm("coordinator", "coordinator.after-decision", {
      action: "sleep",
      ms: 1000,
      count: 1,
    });
    const pending = transferThroughFaults(h, spec);
    await h.eventually(
      "the decision logged",
      async () => (await listed(h.url("coordinator"), "committing")).length > 0,
    );
    const [decided] = await listed(h.url("coordinator"), "committing");
    h.signal("redis-coordinator", "SIGKILL");
    await h.waitDead("redis-coordinator");
    const res = await pending;
    expect(res?.data.outcome).to.equal("committed");

    const other = await openPair(h, "bank-a", "bank-c");
    const refused = await http.post(`${h.url("coordinator")}/v1/transactions`, transferBody(other));
    expect(refused.status).to.equal(503);
    expect(refused.data.error.message).to.match(/decision log|Redis/);

    await h.restart("redis-coordinator");
    await h.verify();
    const record = await http.get(`${h.url("coordinator")}/v1/transactions/${decided?.txid}`);
    expect(record.data.decision).to.equal("commit");
    expect(await balanceOf(h, "bank-b", spec.to.account)).to.equal(1100n);
    expect(await balanceOf(h, "bank-a", other.from.account)).to.equal(1000n);
  });

  it("PostgreSQL of a bank killed with a transaction prepared: it survives the crash and is committed after restart", async () => {
    const spec = await openPair(h);
    await h.arm("coordinator", "coordinator.after-votes", { action: "sleep", ms: 1500, count: 1 });
    const pending = transferThroughFaults(h, spec);
    await h.eventually("bank-b prepared", async () => (await preparedAt(h, "bank-b")).length === 1);
    // The whole server at once, postmaster and backends: a machine crash, not a shutdown.
    process.kill(-h.process("postgres-bank-b").pid, "SIGKILL");
    await h.waitDead("postgres-bank-b");
    await h.restart("postgres-bank-b");
    const res = await pending;
    expect(res?.data.outcome).to.equal("committed");
    await h.verify();
    expect(await ledgerEntriesOf(h, "bank-b", spec.to.account)).to.have.length(1);
    expect(await balanceOf(h, "bank-b", spec.to.account)).to.equal(1100n);
  });
});
