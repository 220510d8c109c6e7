import { expect } from "chai";
import { apiKeyHeader } from "../../scripts/cluster/cluster-auth.js";
import {
  freePort,
  spawnDetached,
  stopProcess,
  waitUntil,
  type ProcessSpec,
} from "../../scripts/cluster/processes.js";
import { http } from "../support/bank-client.js";
import { faultHarness, type FaultHarness } from "../support/fault-harness.js";
import {
  balanceOf,
  listed,
  openPair,
  preparedAt,
  transferThroughFaults,
} from "../support/fault-moves.js";

describe("two coordinators on one log (processes really paused)", function () {
  this.timeout(120_000);
  let h: FaultHarness;
  let second: { spec: ProcessSpec; pid: number } | undefined;

  before(async () => {
    h = await faultHarness();
  });

  afterEach(async () => {
    if (second) await stopProcess(second.pid, second.spec.marker, "SIGTERM");
    second = undefined;
    await h.heal();
    await h.disarmAll();
  });

  /** A second coordinator process on the same Redis log, as after a botched failover. */
  async function startSecondCoordinator(): Promise<string> {
    const first = h.process("coordinator");
    const port = await freePort();
    const spec: ProcessSpec = {
      ...first,
      name: "coordinator-2",
      port,
      url: `http://127.0.0.1:${port}`,
      args: [first.args[0] as string, "--concord-name=coordinator-2", `--concord-dir=${h.dir}`],
      env: { ...first.env, CONCORD_PORT: String(port) },
      marker: `--concord-name=coordinator-2 --concord-dir=${h.dir}`,
      log: first.log.replace(/coordinator\.log$/, "coordinator-2.log"),
    };
    const pid = spawnDetached(spec);
    second = { spec, pid };
    await waitUntil(
      "coordinator-2",
      async () => (await http.get(`${spec.url}/healthz`)).status === 200,
      { timeoutMs: 30_000, log: spec.log },
    );
    return spec.url as string;
  }

  it("two coordinators race to decide one transaction: the register gives both the same outcome", async () => {
    const secondUrl = await startSecondCoordinator();
    const spec = await openPair(h);
    // The first coordinator holds its COMMIT back past the deadline; the second one's recovery
    // finds the transaction undecided and aborts it through the register.
    await h.arm("coordinator", "coordinator.after-votes", { action: "sleep", ms: 2500, count: 1 });
    const res = await transferThroughFaults(h, spec, { timeoutMs: 500 });
    expect(res?.data.outcome).to.equal("aborted");
    // The second coordinator is not in cluster.json: the client's API key is given explicitly.
    const record = await http.get(`${secondUrl}/v1/transactions/${res?.data.txid}`, {
      headers: apiKeyHeader(h.cluster),
    });
    expect(record.data.decision).to.equal("abort");
    expect(record.data.decidedBy).to.equal("recovery");
    await h.verify();
    expect(await balanceOf(h, "bank-a", spec.from.account)).to.equal(1000n);
    expect(await balanceOf(h, "bank-b", spec.to.account)).to.equal(1000n);
  });

  it("a coordinator paused past its deadline wakes up after recovery decided, and obeys the stored decision", async () => {
    const secondUrl = await startSecondCoordinator();
    const spec = await openPair(h);
    await h.arm("coordinator", "coordinator.after-votes", { action: "sleep", ms: 500, count: 1 });
    const pending = transferThroughFaults(h, spec, { timeoutMs: 500 });
    await h.eventually(
      "both banks prepared",
      async () =>
        (await preparedAt(h, "bank-a")).length === 1 &&
        (await preparedAt(h, "bank-b")).length === 1,
    );
    h.signal("coordinator", "SIGSTOP");
    await h.eventually(
      "the second coordinator aborted it",
      async () =>
        (await preparedAt(h, "bank-a")).length === 0 &&
        (await preparedAt(h, "bank-b")).length === 0,
    );
    const [aborted] = await listed(secondUrl, "aborted", apiKeyHeader(h.cluster));
    expect(aborted?.decision).to.equal("abort");
    h.signal("coordinator", "SIGCONT");
    const res = await pending;
    expect(res?.data.outcome).to.equal("aborted");
    await h.verify();
    expect(await balanceOf(h, "bank-b", spec.to.account)).to.equal(1000n);
  });
});
