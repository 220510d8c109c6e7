/**
 * The operator CLI (`npm run concord`, dist/scripts/concord.js) run as a process against the
 * shared cluster, found through its state folder (--dir) as an operator's shell would.
 */
import { expect } from "chai";
import { execFile } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { newTxid } from "../../shared/ids.js";
import { DEFAULT_CLUSTER_DIR } from "../../scripts/cluster/cluster.js";
import { DEFAULT_CLUSTER_DIR as CLI_DEFAULT_DIR } from "../../scripts/concord/connection.js";
import { operatorSecretOf, type ClusterFile } from "../../scripts/cluster/cluster-file.js";
import { http, openAccount, transfer, uniqueAccount } from "../support/bank-client.js";
import { sharedCluster } from "../support/cluster-fixture.js";

const CLI = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "scripts", "concord.js");

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the CLI with `args`, without CONCORD_URL or CONCORD_OPERATOR_SECRET from this process. */
function cli(args: string[], env: Record<string, string> = {}): Promise<Run> {
  const rest = { ...process.env };
  delete rest.CONCORD_URL;
  delete rest.CONCORD_OPERATOR_SECRET;
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [CLI, ...args],
      { env: { ...rest, ...env }, timeout: 60_000 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === "number" ? err.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

describe("the operator CLI (npm run concord)", function () {
  this.timeout(120_000);
  let cluster: ClusterFile;
  let txid: string;
  const at = () => ["--dir", cluster.dir];

  before(async function () {
    cluster = await sharedCluster();
    const from = uniqueAccount("cli-from");
    const to = uniqueAccount("cli-to");
    await openAccount(cluster, "bank-a", from, 100);
    await openAccount(cluster, "bank-b", to, 100);
    const run = await transfer(cluster, {
      from: { bank: "bank-a", account: from },
      to: { bank: "bank-b", account: to },
      amount: 5,
    });
    expect(run.data.outcome, JSON.stringify(run.data)).to.equal("committed");
    txid = run.data.txid ?? "";
  });

  it("tx list --json prints the API's answer", async function () {
    const r = await cli(["tx", "list", "--json", "--limit", "5", ...at()]);
    expect(r.code, r.stderr).to.equal(0);
    const answer = JSON.parse(r.stdout) as { transactions: { txid: string }[] };
    expect(answer.transactions.length).to.be.within(1, 5);
  });

  it("tx show prints one transaction as a table, and --json exactly as the API answers", async function () {
    const human = await cli(["tx", "show", txid, ...at()]);
    expect(human.code, human.stderr).to.equal(0);
    expect(human.stdout)
      .to.include(txid)
      .and.to.match(/state:\s+committed/);
    const json = await cli(["tx", "show", txid, "--json", ...at()]);
    expect(json.code, json.stderr).to.equal(0);
    const api = await http.get(`${cluster.coordinator.url}/v1/transactions/${txid}`, {
      headers: { authorization: `Bearer ${operatorSecretOf(cluster, "coordinator")}` },
    });
    expect(JSON.parse(json.stdout)).to.deep.equal(api.data);
  });

  it("stats and prepared answer, as tables and as JSON", async function () {
    const stats = await cli(["stats", ...at()]);
    expect(stats.code, stats.stderr).to.equal(0);
    expect(stats.stdout).to.match(/transactions: +committed=\d+/);
    const statsJson = JSON.parse((await cli(["stats", "--json", ...at()])).stdout) as {
      latency: Record<string, unknown>;
    };
    expect(statsJson.latency).to.have.keys("prepare", "decide", "phase2", "end_to_end");
    const prepared = await cli(["prepared", ...at()]);
    expect(prepared.code, prepared.stderr).to.equal(0);
    expect(prepared.stdout).to.match(/the log: \d+ undecided/);
    const preparedJson = JSON.parse((await cli(["prepared", "--json", ...at()])).stdout) as {
      participants: { name: string; reachable: boolean }[];
    };
    expect(preparedJson.participants.map((p) => p.name)).to.include("bank-a");
  });

  it("an API refusal exits 1 with its message: tx abort of an unknown txid", async function () {
    const unknown = newTxid();
    const r = await cli(["tx", "abort", unknown, ...at()]);
    expect(r.code).to.equal(1);
    expect(r.stderr).to.match(new RegExp(`no transaction ${unknown}.*HTTP 404 not-found`));
    const committed = await cli(["tx", "abort", txid, ...at()]);
    expect(committed.code).to.equal(1);
    expect(committed.stderr).to.match(/already-committed/);
  });

  it("a wrong command line exits 2 saying what to fix", async function () {
    const cases: [string[], RegExp][] = [
      [["tx", "list", "--bogus"], /unknown option --bogus/],
      [["tx", "frobnicate"], /unknown command "tx frobnicate"; commands: tx list/],
      [["stats", "--state", "committed"], /--state is not an option of stats/],
      [["tx", "show", "not-a-txid"], /<txid> must be a lowercase UUID/],
      [["tx", "show"], /tx show takes <txid>/],
      [["tx", "list", "--limit", "many"], /--limit must be a number/],
    ];
    for (const [args, message] of cases) {
      const r = await cli([...args, ...at()]);
      expect(r.code, args.join(" ")).to.equal(2);
      expect(r.stderr, args.join(" ")).to.match(message);
    }
    const nowhere = await cli(["stats", "--dir", join(cluster.dir, "no-such-cluster")]);
    expect(nowhere.code).to.equal(2);
    expect(nowhere.stderr).to.match(/no coordinator to talk to/);
    expect(CLI_DEFAULT_DIR, "the CLI's default state folder").to.equal(DEFAULT_CLUSTER_DIR);
    const help = await cli(["--help"]);
    expect(help.code).to.equal(0);
    expect(help.stdout).to.match(/usage: npm run concord/);
  });

  it("takes the coordinator and the secret from CONCORD_URL and CONCORD_OPERATOR_SECRET", async function () {
    const env = {
      CONCORD_URL: cluster.coordinator.url,
      CONCORD_OPERATOR_SECRET: operatorSecretOf(cluster, "coordinator"),
    };
    const r = await cli(["tx", "show", txid, "--dir", "/nonexistent"], env);
    expect(r.code, r.stderr).to.equal(0);
    const wrong = await cli(["stats"], { ...env, CONCORD_OPERATOR_SECRET: "not-the-secret" });
    expect(wrong.code).to.equal(1);
    expect(wrong.stderr).to.match(/HTTP 401 unauthorized/);
  });
});
