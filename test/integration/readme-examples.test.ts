import { expect } from "chai";
import { clusterFilePath, type ClusterFile } from "../../scripts/cluster/cluster-file.js";
import { account } from "../support/bank-client.js";
import { sharedCluster } from "../support/cluster-fixture.js";
import { runReadmeExample } from "../support/readme-examples.js";

/** A new user copies the README's commands: they must work as written against a fresh cluster. */
describe("the README's examples, run as written", function () {
  let cluster: ClusterFile;

  before(async function () {
    this.timeout(120_000);
    cluster = await sharedCluster();
  });

  it("the API walk-through: open accounts, transfer, refused mint, own list, operator read, bank read", async function () {
    this.timeout(60_000);
    const run = runReadmeExample("api", clusterFilePath(cluster.dir));
    expect(run.status, `${run.stdout}\n${run.stderr}`).to.equal(0);
    const lines = run.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const [openA, openB, moved, mint, list, read, direct] = lines;
    expect(openA).to.deep.include({ id: "erin-try", balance: "10000" });
    expect(openB).to.deep.include({ id: "frank-try", balance: "0" });
    expect(moved).to.deep.include({ outcome: "committed" });
    expect((mint?.error as { code: string }).code).to.equal("unbalanced");
    expect((list?.transactions as { txid: string }[]).map((t) => t.txid)).to.include(moved?.txid);
    expect(read).to.deep.include({ outcome: "committed" });
    const balances = (read?.participants as { results: { balance: string }[] }[]).map(
      (p) => p.results[0]?.balance,
    );
    expect(balances).to.deep.equal(["7500", "2500"]);
    expect(direct).to.deep.include({ id: "frank-try", balance: "2500" });
    expect((await account(cluster, "bank-a", "erin-try")).balance).to.equal(7500n);
  });
});
