import { expect } from "chai";
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { startCluster } from "../../scripts/cluster/cluster.js";
import {
  adminSecretOf,
  peerPairKey,
  type ClusterFile,
} from "../../scripts/cluster/cluster-file.js";
import { participantsFilePath, peersFilePath } from "../../scripts/cluster/directory-files.js";
import { isOurProcess } from "../../scripts/cluster/processes.js";
import { account, http, openAccount, uniqueAccount, withBankDb } from "../support/bank-client.js";
import { sharedCluster, TEST_ENV } from "../support/cluster-fixture.js";

describe("the local cluster", function () {
  let cluster: ClusterFile;

  before(async function () {
    this.timeout(120_000);
    cluster = await sharedCluster();
  });

  it("describes every process in cluster.json, readable only by its owner", function () {
    const mode = statSync(join(cluster.dir, "cluster.json")).mode & 0o777;
    expect(mode).to.equal(0o600);
    const names = cluster.processes.map((p) => p.name).sort();
    expect(names).to.deep.equal([
      "bank-a",
      "bank-b",
      "bank-c",
      "coordinator",
      "inventory",
      "postgres-bank-a",
      "postgres-bank-b",
      "postgres-bank-c",
      "postgres-coordinator",
      "postgres-inventory",
      "redis-bank-a",
      "redis-bank-b",
      "redis-bank-c",
      "redis-coordinator",
      "redis-inventory",
    ]);
    expect(cluster.participants.map((p) => [p.name, p.application])).to.deep.equal([
      ["bank-a", "bank"],
      ["bank-b", "bank"],
      ["bank-c", "bank"],
      ["inventory", "inventory"],
    ]);
    expect(cluster.banks.map((b) => b.name)).to.deep.equal(["bank-a", "bank-b", "bank-c"]);
    for (const p of cluster.processes) {
      expect(p.pid, p.name).to.be.a("number");
      expect(p.port, p.name).to.be.greaterThan(0);
      expect(p.log, p.name).to.match(/\.log$/);
      expect(isOurProcess(p.pid, p.marker), `${p.name} running`).to.equal(true);
    }
    // Each participant connects as its own role, to its own database; the superuser URL is the
    // operators'.
    for (const b of cluster.participants) {
      const db = `concord_${b.name.replace("-", "_")}`;
      expect(new URL(b.databaseUrl).username).to.equal(db);
      expect(new URL(b.databaseUrl).pathname).to.equal(`/${db}`);
      expect(new URL(b.adminDatabaseUrl).username).to.equal("postgres");
    }
    // The coordinator's archive: its own role and database on its own server, not a superuser's.
    const archive = new URL(cluster.coordinator.archiveDatabaseUrl ?? "");
    expect([archive.username, archive.pathname]).to.deep.equal([
      "coordinator",
      "/concord_coordinator",
    ]);
    expect(Number(archive.port)).to.equal(
      cluster.processes.find((p) => p.name === "postgres-coordinator")?.port,
    );
    for (const s of ["coordinator", ...cluster.participants.map((b) => b.name)])
      expect(adminSecretOf(cluster, s)).to.have.length.greaterThan(20);
  });

  it("gives the coordinator its participants and each participant its peers in files (mode 0600), with the secrets of cluster.json", function () {
    type Entries = Record<string, { url: string; secret: string }>;
    const read = (path: string, key: string) => {
      expect(statSync(path).mode & 0o777, path).to.equal(0o600);
      return (JSON.parse(readFileSync(path, "utf8")) as Record<string, Entries>)[key] ?? {};
    };
    const coordinator = cluster.processes.find((p) => p.name === "coordinator");
    expect(coordinator?.env.CONCORD_PARTICIPANTS_FILE).to.equal(participantsFilePath(cluster.dir));
    expect(coordinator?.env).to.not.have.property("CONCORD_PARTICIPANTS");
    expect(read(participantsFilePath(cluster.dir), "participants")).to.deep.equal(
      Object.fromEntries(
        cluster.participants.map((p) => [
          p.name,
          { url: p.participantUrl, secret: cluster.secrets.participantSecrets[p.name] },
        ]),
      ),
    );
    for (const p of cluster.participants) {
      const spec = cluster.processes.find((x) => x.name === p.name);
      expect(spec?.env.CONCORD_PEERS_FILE, p.name).to.equal(peersFilePath(cluster.dir, p.name));
      expect(spec?.env, p.name).to.not.have.property("CONCORD_PEERS");
      const others = cluster.participants.filter((q) => q.name !== p.name);
      expect(read(peersFilePath(cluster.dir, p.name), "peers"), p.name).to.deep.equal(
        Object.fromEntries(
          others.map((q) => [
            q.name,
            {
              url: q.participantUrl,
              secret: cluster.secrets.peerSecrets[peerPairKey(p.name, q.name)],
            },
          ]),
        ),
      );
    }
  });

  it("runs each participant on its own PostgreSQL server with prepared transactions enabled, and each Redis with AOF fsync always", async function () {
    const ports = new Set(cluster.participants.map((b) => b.postgresPort));
    expect(ports.size).to.equal(cluster.participants.length);
    for (const b of cluster.banks) {
      const max = await withBankDb(cluster, b.name, async (db) => {
        const { rows } = await db.query<{ max_prepared_transactions: string }>(
          "SHOW max_prepared_transactions",
        );
        return Number(rows[0]?.max_prepared_transactions);
      });
      expect(max).to.be.greaterThan(0);
    }
    const redisPorts = new Set(
      cluster.processes.filter((p) => p.role === "redis").map((p) => p.port),
    );
    expect(redisPorts.size).to.equal(cluster.participants.length + 1);
  });

  it("re-running start on the same folder restarts only what was killed, and reuses its data", async function () {
    this.timeout(120_000);
    const id = uniqueAccount("survivor");
    await openAccount(cluster, "bank-c", id, 77);
    const victim = cluster.processes.find((p) => p.name === "bank-c");
    if (!victim) throw new Error("no bank-c");
    process.kill(victim.pid, "SIGKILL");
    const others = cluster.processes.filter((p) => p.name !== "bank-c").map((p) => [p.name, p.pid]);
    const again = await startCluster({ dir: cluster.dir, banks: 3, env: TEST_ENV });
    const restarted = again.processes.find((p) => p.name === "bank-c");
    expect(restarted?.pid).to.not.equal(victim.pid);
    expect(restarted?.port).to.equal(victim.port);
    expect(
      again.processes.filter((p) => p.name !== "bank-c").map((p) => [p.name, p.pid]),
    ).to.deep.equal(others);
    expect((await account(again, "bank-c", id)).balance).to.equal(77n);
    expect((await http.get(`${restarted?.url}/healthz`)).status).to.equal(200);
  });
});
