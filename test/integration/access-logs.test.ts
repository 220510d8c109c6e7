import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import { startCluster, stopCluster } from "../../scripts/cluster/cluster.js";
import type { ClusterFile } from "../../scripts/cluster/cluster-file.js";
import { removeOutsideData } from "../../scripts/cluster/postgres.js";
import {
  allSecrets,
  http,
  openAccount,
  registerCluster,
  settled,
  uniqueAccount,
} from "../support/bank-client.js";
import type { RunAnswer } from "../support/answers.js";
import { TEST_ENV } from "../support/cluster-fixture.js";

type Line = Record<string, unknown>;

function logLines(cluster: ClusterFile, service: string): { text: string; lines: Line[] } {
  const text = readFileSync(join(cluster.dir, "logs", `${service}.log`), "utf8");
  const lines = text
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as Line);
  return { text, lines };
}

/** The coordinator's line of this request: written when the answer is finished, which the
 *  client may see a moment before. */
async function accessLineOf(cluster: ClusterFile, requestId: string): Promise<Line | undefined> {
  for (let i = 0; i < 50; i++) {
    const line = logLines(cluster, "coordinator").lines.find((l) => l.requestId === requestId);
    if (line) return line;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return undefined;
}

/**
 * A cluster of its own, logging at `debug`: the shared one logs warnings only (so a failing
 * suite's logs stay readable), and a transaction that goes well writes nothing at that level.
 */
describe("access logs: request ids, txids and Idempotency-Keys on every line, across services", function () {
  let dir: string;
  let cluster: ClusterFile;

  before(async function () {
    this.timeout(180_000);
    dir = mkdtempSync(join(tmpdir(), "concord-access-logs-"));
    const env = { ...TEST_ENV, CONCORD_LOG_LEVEL: "debug" };
    cluster = registerCluster(await startCluster({ dir, banks: 2, inventory: 0, env }));
  });

  after(async function () {
    this.timeout(60_000);
    await stopCluster(dir);
    removeOutsideData(dir);
    rmSync(dir, { recursive: true, force: true });
  });

  it("a transfer's lines at the coordinator and at each participant carry its txid, the request id and the Idempotency-Key", async function () {
    const alice = uniqueAccount("alice");
    const bob = uniqueAccount("bob");
    await openAccount(cluster, "bank-a", alice, 100);
    await openAccount(cluster, "bank-b", bob, 0);
    const requestId = `req-${uniqueAccount("t")}`;
    const idempotencyKey = `key-${uniqueAccount("t")}`;
    const res = await http.post<RunAnswer>(
      `${cluster.coordinator.url}/v1/transactions`,
      {
        participants: [
          { name: "bank-a", operations: [{ op: "debit", account: alice, amount: "10" }] },
          { name: "bank-b", operations: [{ op: "credit", account: bob, amount: "10" }] },
        ],
      },
      { headers: { "x-request-id": requestId, "idempotency-key": idempotencyKey } },
    );
    expect(res.status).to.equal(200);
    expect(res.data.outcome).to.equal("committed");
    expect(res.headers["x-request-id"]).to.equal(requestId);
    const txid = String(res.data.txid);
    await settled(cluster);

    for (const service of ["coordinator", "bank-a", "bank-b"]) {
      const about = logLines(cluster, service).lines.filter((l) =>
        JSON.stringify(l).includes(txid),
      );
      expect(about.length, `${service}: lines about ${txid}`).to.be.greaterThan(0);
      for (const line of about)
        expect(
          { requestId: line.requestId, idempotencyKey: line.idempotencyKey, txid: line.txid },
          `${service}: ${JSON.stringify(line)}`,
        ).to.deep.equal({ requestId, idempotencyKey, txid });
      const access = about.filter((l) => l.msg === "request");
      expect(access.length, `${service}: access lines`).to.be.greaterThan(0);
      for (const line of access) {
        expect(line.status).to.equal(200);
        expect(line.route).to.be.a("string").and.not.equal("unmatched");
        expect(line.durationMs).to.be.a("number");
      }
    }
    const routes = logLines(cluster, "bank-a")
      .lines.filter((l) => l.msg === "request" && l.txid === txid)
      .map((l) => l.route);
    expect(routes).to.include.members(["/v1/2pc/:txid/prepare", "/v1/2pc/:txid/commit"]);
  });

  it("a request id that is not sane is replaced by a new one, echoed and logged", async function () {
    for (const sent of ["has space", "x".repeat(200), 'quote"and{brace}']) {
      const res = await http.get(`${cluster.coordinator.url}/healthz`, {
        headers: { "x-request-id": sent },
      });
      const echoed = String(res.headers["x-request-id"]);
      expect(echoed).to.match(/^[0-9a-f-]{36}$/);
      const line = await accessLineOf(cluster, echoed);
      expect(line, `access line of ${echoed}`).to.include({ route: "/healthz", status: 200 });
    }
    const unmatched = await http.get(`${cluster.coordinator.url}/no/such/path`);
    expect(unmatched.status).to.equal(404);
    const id = String(unmatched.headers["x-request-id"]);
    const line = await accessLineOf(cluster, id);
    expect(line).to.include({ route: "unmatched", status: 404 });
  });

  it("no secret appears in any log", function () {
    const secrets = allSecrets(cluster).filter((s) => s.length >= 8);
    for (const service of ["coordinator", "bank-a", "bank-b"]) {
      const { text } = logLines(cluster, service);
      for (const secret of secrets) expect(text.includes(secret), service).to.equal(false);
    }
  });
});
