/**
 * `npm run demo -- --scenario order` end to end, on the shared cluster (which runs the inventory):
 * the demo's own process places its orders through the client library, prints the tables and
 * outcomes, and passes every one of its checks (exit 0). Run twice: a second run on the same
 * cluster plans anew from what the first left.
 */
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { expect } from "chai";
import type { ClusterFile } from "../../scripts/cluster/cluster-file.js";
import { preparedLeft } from "../support/bank-client.js";
import { sharedCluster } from "../support/cluster-fixture.js";

const DEMO = fileURLToPath(new URL("../../scripts/demo.js", import.meta.url));

function runDemo(args: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [DEMO, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (c: Buffer) => (out += c.toString("utf8")));
    child.stderr.on("data", (c: Buffer) => (out += c.toString("utf8")));
    child.on("error", reject);
    child.on("close", (code) => {
      resolve({ code, out });
    });
  });
}

describe("the order demo (npm run demo -- --scenario order)", function () {
  let cluster: ClusterFile;

  before(async function () {
    this.timeout(120_000);
    cluster = await sharedCluster();
  });

  it("places orders over two banks and the inventory; failures change nothing; every check passes, twice", async function () {
    this.timeout(120_000);
    for (const run of [1, 2]) {
      const { code, out } = await runDemo(["--scenario", "order", "--dir", cluster.dir]);
      expect(code, `run ${run}:\n${out}`).to.equal(0);
      expect(out).to.include("All checks passed.");
      expect(out).to.match(/aborted: out-of-stock/);
      expect(out).to.match(/aborted: insufficient-funds/);
      expect(out).to.match(/-> {2}committed/);
      expect(out).not.to.include("FAIL");
      for (const table of ["stock+sold", "total money"]) expect(out).to.include(table);
    }
    expect(await preparedLeft(cluster)).to.equal(0);
  });

  it("refuses an unknown scenario with a usage error (exit 2)", async function () {
    const { code, out } = await runDemo(["--scenario", "nope", "--dir", cluster.dir]);
    expect(code).to.equal(2);
    expect(out).to.include("--scenario must be transfer or order");
  });
});
