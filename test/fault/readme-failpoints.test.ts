import { expect } from "chai";
import { clusterFilePath } from "../../scripts/cluster/cluster-file.js";
import { useFaultHarness, type FaultHarness } from "../support/fault-harness.js";
import { recordCurl } from "../support/curl-log.js";
import { runReadmeExample } from "../support/readme-examples.js";
import { undocumentedCalls } from "../support/readme-openapi.js";

/** The README's failpoint commands, run as written against a cluster with the admin API on. */
describe("the README's failpoint example, run as written", function () {
  this.timeout(60_000);
  let h: FaultHarness;
  useFaultHarness((harness) => (h = harness));

  it("arms, lists and disarms a failpoint through the admin API, as the coordinator's OpenAPI document says", async () => {
    const log = recordCurl();
    let calls;
    let run;
    try {
      run = runReadmeExample("failpoints", clusterFilePath(h.dir), log.env);
      calls = log.calls();
    } finally {
      log.remove();
    }
    expect(run.status, `${run.stdout}\n${run.stderr}`).to.equal(0);
    const [armed, listed, disarmed] = run.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(armed).to.deep.include({ name: "coordinator.after-decision" });
    const entry = (listed?.failpoints as { name: string; spec: unknown }[]).find(
      (f) => f.name === "coordinator.after-decision",
    );
    expect(entry?.spec).to.deep.include({ action: "sleep", ms: 200 });
    expect(disarmed).to.deep.include({ name: "coordinator.after-decision", spec: null });
    expect(calls).to.have.length(3);
    expect(await undocumentedCalls(calls)).to.deep.equal([]);
  });
});
