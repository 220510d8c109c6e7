/**
 * The journal's Redis down under a message: PREPARE, COMMIT, ABORT and one-phase requests get a
 * 503 whose message says nothing was done, and nothing is left prepared that was not prepared
 * before. A participant of its own (startParticipant, a small test application) runs on a fresh
 * database of the shared cluster's PostgreSQL and on a Redis server of its own, which the tests
 * stop and start again (its append-only file keeps the journal across).
 */
import { expect } from "chai";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { z } from "zod";
import type { AxiosResponse } from "axios";
import type { Application } from "../../participant/framework/application.js";
import { startParticipant, type RunningParticipant } from "../../participant/framework/start.js";
import type { BankEntry } from "../../scripts/cluster/cluster-file.js";
import {
  freePort,
  isOurProcess,
  spawnDetached,
  stopProcess,
  waitUntil,
} from "../../scripts/cluster/processes.js";
import { redisReady, redisSpec } from "../../scripts/cluster/redis.js";
import { signerFor } from "../../shared/auth.js";
import { newTxid } from "../../shared/ids.js";
import { raw } from "../support/bank-client.js";
import { sharedCluster } from "../support/cluster-fixture.js";
import { createScratchDatabase, type ScratchDatabase } from "../support/scratch-database.js";

const opsSchema = z.array(z.object({ id: z.string().max(40) }).strict()).min(1);
type Ops = z.infer<typeof opsSchema>;

const application: Application<Ops> = {
  name: "journal-down-test",
  migrations: [{ relation: "jd_rows", sql: "CREATE TABLE jd_rows (id text PRIMARY KEY)" }],
  operations: opsSchema,
  async execute(client, _txid, ops) {
    for (const o of ops) await client.query("INSERT INTO jd_rows (id) VALUES ($1)", [o.id]);
    return { readOnly: false };
  },
};

interface Answer {
  vote?: string;
  outcome?: string;
  state?: string;
  reason?: string;
  error?: { code?: string; message?: string };
}

/** A Redis server of the test's own, durable like the cluster's, that it can stop and start. */
class OwnRedis {
  private pid: number | undefined;
  readonly dir = mkdtempSync(join(tmpdir(), "concord-journal-down-"));
  port = 0;

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  private spec() {
    return redisSpec({
      name: "redis-journal-down",
      dataDir: join(this.dir, "data"),
      port: this.port,
      users: [],
      log: join(this.dir, "redis.log"),
    });
  }

  async start(): Promise<void> {
    if (this.pid !== undefined) return;
    if (this.port === 0) this.port = await freePort();
    const spec = this.spec();
    const pid = spawnDetached(spec);
    this.pid = pid;
    await waitUntil("the test's Redis", () => redisReady(this.url), {
      timeoutMs: 20_000,
      alive: () => isOurProcess(pid, spec.marker),
      log: spec.log,
    });
  }

  async stop(): Promise<void> {
    if (this.pid !== undefined) await stopProcess(this.pid, this.spec().marker, "SIGTERM", 5000);
    this.pid = undefined;
  }

  async remove(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

describe("the journal's Redis down: 503, and nothing was done (real PostgreSQL and Redis)", function () {
  const name = `jd-${process.pid}`;
  const secret = randomBytes(32).toString("hex");
  const database = `concord_jd_${process.pid}`;
  const redis = new OwnRedis();
  let participant: RunningParticipant | undefined;
  let adminUrl = "";
  let scratch: ScratchDatabase | undefined;

  const send = async (path: string, body: unknown): Promise<AxiosResponse<Answer>> => {
    const running = participant;
    if (!running) throw new Error("the participant did not start");
    const json = JSON.stringify(body);
    const sign = signerFor({ secret, keyId: "coordinator", audience: name });
    const headers = {
      "content-type": "application/json",
      ...sign("POST", path, json, "application/json"),
    };
    return raw.post<Answer>(`${running.url}${path}`, json, {
      headers,
      transformRequest: [(d: unknown) => d],
    });
  };
  const prepare = (txid: string) =>
    send(`/v1/2pc/${txid}/prepare`, { operations: [{ id: txid }], participants: [name, "other"] });
  const commit = (txid: string) => send(`/v1/2pc/${txid}/commit`, {});
  const abort = (txid: string) => send(`/v1/2pc/${txid}/abort`, {});
  const onePhase = (txid: string) =>
    send(`/v1/2pc/${txid}/one-phase`, { operations: [{ id: txid }] });

  async function inDb<T>(work: (db: pg.Client) => Promise<T>): Promise<T> {
    const db = new pg.Client({ connectionString: adminUrl });
    await db.connect();
    try {
      return await work(db);
    } finally {
      await db.end();
    }
  }
  const prepared = () =>
    inDb(async (db) => {
      const { rows } = await db.query<{ gid: string }>(
        "SELECT gid FROM pg_prepared_xacts WHERE starts_with(gid, $1)",
        [`concord:${name}:`],
      );
      return rows.map((r) => r.gid.slice(`concord:${name}:`.length));
    });
  const rowsOf = (txid: string) =>
    inDb(async (db) => (await db.query("SELECT 1 FROM jd_rows WHERE id = $1", [txid])).rowCount);

  /** Redis started again, and the participant's connection to it back (its health says so). */
  async function journalBack(): Promise<void> {
    await redis.start();
    const url = participant?.url ?? "";
    await waitUntil(
      "the participant's journal",
      async () => {
        const res = await raw.get<{ journal?: string }>(`${url}/healthz`);
        return res.data.journal === "ok";
      },
      { timeoutMs: 20_000 },
    );
  }

  /** A 503 that says nothing was done. */
  function expectNothingDone(res: AxiosResponse<Answer>): void {
    expect(res.status, JSON.stringify(res.data)).to.equal(503);
    expect(res.data.error?.code).to.equal("unavailable");
    expect(res.data.error?.message).to.match(/^journal unreachable; nothing was done/);
  }

  before(async function () {
    this.timeout(180_000);
    const cluster = await sharedCluster();
    const server = cluster.banks[0] as BankEntry;
    scratch = await createScratchDatabase(server.adminDatabaseUrl, database);
    adminUrl = scratch.adminUrl;
    await redis.start();
    participant = await startParticipant({
      application,
      handleSignals: false,
      env: {},
      config: {
        CONCORD_PARTICIPANT_NAME: name,
        CONCORD_PARTICIPANT_SECRET: secret,
        CONCORD_DATABASE_URL: adminUrl,
        CONCORD_REDIS_URL: redis.url,
        CONCORD_PORT: "0",
        CONCORD_PG_POOL_SIZE: "6",
        CONCORD_PG_DECISION_POOL_SIZE: "2",
        // Recovery stays out of the way: the tests finish what they prepare themselves.
        CONCORD_RECOVERY_MIN_AGE_MS: "600000",
        CONCORD_LOG_LEVEL: "error",
      },
    });
  });

  afterEach(async function () {
    this.timeout(30_000);
    await journalBack();
  });

  after(async function () {
    this.timeout(60_000);
    await participant?.stop();
    await redis.remove();
    await scratch?.drop();
  });

  it("PREPARE: the YES cannot be journaled, so the transaction is rolled back and votes NO after", async function () {
    const txid = newTxid();
    await redis.stop();
    expectNothingDone(await prepare(txid));
    expect(await prepared()).to.deep.equal([]);
    expect(await rowsOf(txid)).to.equal(0);
    await journalBack();
    // Its tombstone makes the refusal permanent, whatever the coordinator makes of the 503.
    expect((await prepare(txid)).data).to.deep.equal({
      isolation: "read-committed",
      vote: "no",
      reason: "already-aborted",
    });
    expect(await prepared()).to.deep.equal([]);
  });

  it("one phase: nothing is executed, and the request can be sent again", async function () {
    const txid = newTxid();
    await redis.stop();
    expectNothingDone(await onePhase(txid));
    expect(await rowsOf(txid)).to.equal(0);
    await journalBack();
    expect((await onePhase(txid)).data).to.deep.equal({
      isolation: "read-committed",
      outcome: "committed",
    });
    expect(await rowsOf(txid)).to.equal(1);
  });

  it("COMMIT: COMMIT PREPARED is not issued; the transaction stays prepared and commits once Redis is back", async function () {
    const txid = newTxid();
    expect((await prepare(txid)).data).to.deep.equal({ isolation: "read-committed", vote: "yes" });
    await redis.stop();
    expectNothingDone(await commit(txid));
    expect(await prepared()).to.deep.equal([txid]);
    await journalBack();
    expect((await commit(txid)).data).to.deep.include({ state: "committed" });
    expect(await prepared()).to.deep.equal([]);
    expect(await rowsOf(txid)).to.equal(1);
  });

  it("ABORT: nothing is rolled back; the transaction stays prepared and aborts once Redis is back", async function () {
    const txid = newTxid();
    expect((await prepare(txid)).data).to.deep.equal({ isolation: "read-committed", vote: "yes" });
    await redis.stop();
    expectNothingDone(await abort(txid));
    expect(await prepared()).to.deep.equal([txid]);
    await journalBack();
    expect((await abort(txid)).data).to.deep.include({ state: "aborted" });
    expect(await prepared()).to.deep.equal([]);
    expect(await rowsOf(txid)).to.equal(0);
  });

  it("ABORT before any PREPARE: no tombstone is written, and a repeated ABORT writes it", async function () {
    const txid = newTxid();
    await redis.stop();
    expectNothingDone(await abort(txid));
    const tombstones = () =>
      inDb(
        async (db) =>
          (await db.query("SELECT 1 FROM concord_txn WHERE txid = $1", [txid])).rowCount,
      );
    expect(await tombstones()).to.equal(0);
    await journalBack();
    expect((await abort(txid)).data).to.deep.include({ state: "aborted" });
    expect(await tombstones()).to.equal(1);
  });
});
