import { expect } from "chai";
import { sleep } from "../../shared/clock.js";
import { http } from "../support/bank-client.js";
import { useFaultHarness, type FaultHarness } from "../support/fault-harness.js";
import {
  balanceOf,
  ledgerEntriesOf,
  openPair,
  preparedAt,
  transferThroughFaults,
} from "../support/fault-moves.js";

describe("duplicated and reordered messages", function () {
  this.timeout(120_000);
  let h: FaultHarness;

  useFaultHarness((harness) => (h = harness));

  it("duplicated PREPAREs and COMMITs of a committed transfer, sent all at once, change nothing", async () => {
    const spec = await openPair(h);
    const res = await transferThroughFaults(h, spec);
    expect(res?.data.outcome).to.equal("committed");
    const txid = res?.data.txid as string;
    const ops = { operations: [{ op: "credit", account: spec.to.account, amount: "100" }] };
    const replies = await Promise.all([
      ...[1, 2, 3].map(() => http.post(`${h.url("bank-b")}/v1/2pc/${txid}/commit`, {})),
      ...[1, 2].map(() => http.post(`${h.url("bank-b")}/v1/2pc/${txid}/prepare`, ops)),
      http.post(`${h.url("bank-a")}/v1/2pc/${txid}/commit`, {}),
    ]);
    expect(replies.map((r) => r.status)).to.deep.equal([200, 200, 200, 200, 200, 200]);
    await h.verify();
    expect(await ledgerEntriesOf(h, "bank-b", spec.to.account)).to.have.length(1);
    expect(await balanceOf(h, "bank-b", spec.to.account)).to.equal(1100n);
  });

  it("the coordinator's ABORT overtakes its own PREPARE: the late PREPARE votes no and prepares nothing", async () => {
    const spec = await openPair(h);
    // bank-b's PREPARE is held on its way in; the deadline passes, the coordinator decides
    // abort and its ABORT reaches bank-b before the PREPARE does.
    await h.arm("bank-b", "participant.before-prepare", { action: "sleep", ms: 2000, count: 1 });
    const res = await transferThroughFaults(h, spec, { timeoutMs: 500 });
    expect(res?.data.outcome).to.equal("aborted");
    const status = await http.get(`${h.url("bank-b")}/v1/2pc/${res?.data.txid}`);
    expect(status.data.outcome).to.equal("aborted");
    // Let the held PREPARE arrive (it was held for 2 s), then check it prepared nothing.
    await sleep(2500);
    await h.verify();
    expect(await preparedAt(h, "bank-b")).to.deep.equal([]);
    expect(await balanceOf(h, "bank-a", spec.from.account)).to.equal(1000n);
    expect(await balanceOf(h, "bank-b", spec.to.account)).to.equal(1000n);
  });
});
