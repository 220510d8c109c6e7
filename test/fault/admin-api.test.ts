import { expect } from "chai";
import { http } from "../support/bank-client.js";
import { sharedCluster } from "../support/cluster-fixture.js";
import { useFaultHarness, type FaultHarness } from "../support/fault-harness.js";

describe("the admin API (failpoints)", function () {
  this.timeout(120_000);
  let h: FaultHarness;
  useFaultHarness((harness) => (h = harness));

  it("refuses every call without the admin secret, and changes nothing", async () => {
    for (const name of ["coordinator", "bank-a"]) {
      const url = `${h.url(name)}/v1/admin/failpoints`;
      expect((await http.get(url)).status).to.equal(401);
      const fp = name === "coordinator" ? "coordinator.after-decision" : "participant.before-prepare";
      const put = await http.put(`${url}/${fp}`, { action: "crash" }, { headers: { authorization: "Bearer wrong" } });
      expect(put.status).to.equal(401);
      expect(put.data.error.message).to.match(/admin secret/);
      const list = await http.get(url, { headers: { authorization: `Bearer ${h.cluster.secrets.adminSecret}` } });
      expect(list.data.failpoints.every((f: { spec: unknown }) => f.spec === null)).to.equal(true);
    }
  });

  it("refuses an unknown failpoint or a malformed spec with 400", async () => {
    const auth = { headers: { authorization: `Bearer ${h.cluster.secrets.adminSecret}` } };
    const unknown = await http.put(`${h.url("coordinator")}/v1/admin/failpoints/nowhere`, { action: "crash" }, auth);
    expect(unknown.status).to.equal(400);
    expect(unknown.data.error.message).to.match(/unknown failpoint/);
    const bad = await http.put(`${h.url("coordinator")}/v1/admin/failpoints/coordinator.after-begin`, { action: "explode" }, auth);
    expect(bad.status).to.equal(400);
  });

  it("does not exist unless explicitly enabled", async () => {
    const plain = await sharedCluster();
    const res = await http.get(`${plain.coordinator.url}/v1/admin/failpoints`, { headers: { authorization: `Bearer ${plain.secrets.adminSecret}` } });
    expect(res.status).to.equal(404);
  });
});
