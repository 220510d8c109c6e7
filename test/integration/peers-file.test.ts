/**
 * Peers learn of a participant added while they run: a participant started with
 * CONCORD_PEERS_FILE takes a peer written into the file (its pair secret now opens the
 * cooperative-termination inquiry) and refuses it again once removed, without a restart.
 * A real participant (the inventory application) on a fresh database of the shared cluster.
 */
import { expect } from "chai";
import { randomBytes } from "node:crypto";
import { mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { inventoryApplication } from "../../participant/inventory/inventory-application.js";
import { startParticipant, type RunningParticipant } from "../../participant/framework/start.js";
import { waitUntil } from "../../scripts/cluster/processes.js";
import { signerFor } from "../../shared/auth.js";
import { newTxid } from "../../shared/ids.js";
import { raw } from "../support/bank-client.js";
import { sharedCluster } from "../support/cluster-fixture.js";
import { createScratchDatabase, type ScratchDatabase } from "../support/scratch-database.js";

describe("peers from a file, reloaded while running", function () {
  this.timeout(120_000);
  const name = `peers-${process.pid}`;
  const database = `concord_peers_${process.pid}`;
  const peerSecret = randomBytes(32).toString("hex");
  let dir = "";
  let file = "";
  let scratch: ScratchDatabase | undefined;
  let participant: RunningParticipant | undefined;

  const writePeers = (peers: Record<string, { url: string; secret: string }>) => {
    writeFileSync(`${file}.new`, JSON.stringify({ peers }), { mode: 0o600 });
    renameSync(`${file}.new`, file);
  };
  /** An inquiry signed by `peer-x` with the pair's secret, as a peer in doubt sends it. */
  const inquire = async () => {
    const path = `/v1/2pc/${newTxid()}/inquiry`;
    const json = "{}";
    const sign = signerFor({ secret: peerSecret, keyId: "peer-x", audience: name });
    const res = await raw.post(`${participant?.url ?? ""}${path}`, json, {
      headers: {
        "content-type": "application/json",
        ...sign("POST", path, json, "application/json"),
      },
      transformRequest: [(d: unknown) => d],
    });
    return res.status;
  };

  before(async function () {
    const cluster = await sharedCluster();
    const server = cluster.participants[0];
    if (!server) throw new Error("the cluster has no participant");
    scratch = await createScratchDatabase(server.adminDatabaseUrl, database);
    dir = mkdtempSync(join(tmpdir(), "concord-peers-file-"));
    file = join(dir, "peers.json");
    writePeers({});
    participant = await startParticipant({
      application: inventoryApplication,
      handleSignals: false,
      env: {},
      config: {
        CONCORD_PARTICIPANT_NAME: name,
        CONCORD_PARTICIPANT_SECRET: randomBytes(32).toString("hex"),
        CONCORD_DATABASE_URL: scratch.adminUrl,
        CONCORD_REDIS_URL: server.adminRedisUrl,
        CONCORD_PORT: "0",
        CONCORD_PG_POOL_SIZE: "6",
        CONCORD_PG_DECISION_POOL_SIZE: "2",
        CONCORD_PEERS_FILE: file,
        CONCORD_LOG_LEVEL: "warn",
      },
    });
  });

  after(async function () {
    await participant?.stop();
    rmSync(dir, { recursive: true, force: true });
    await scratch?.drop();
  });

  it("a peer written into the file may ask; removed, it may not", async function () {
    expect(await inquire(), "a peer nobody listed").to.equal(401);
    writePeers({ "peer-x": { url: "http://127.0.0.1:9", secret: peerSecret } });
    await waitUntil("peer taken", async () => (await inquire()) === 200, { timeoutMs: 20_000 });
    writePeers({});
    await waitUntil("peer removed", async () => (await inquire()) === 401, { timeoutMs: 20_000 });
  });
});
