/**
 * History out of Redis: finished transactions move to the coordinator's PostgreSQL archive after
 * the window, and the query API reads both. A cluster of its own, with a one-second window, so
 * that archiving happens while the tests watch (they poll for it; no timing is asserted).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import { Redis } from "ioredis";
import pg from "pg";
import type { ClusterFile } from "../../scripts/cluster/cluster-file.js";
import { restartProcess, startCluster, stopCluster } from "../../scripts/cluster/cluster.js";
import { removeOutsideData } from "../../scripts/cluster/postgres.js";
import { stopProcess } from "../../scripts/cluster/processes.js";
import { shardOf } from "../../shared/durable-log.js";
import { sleep } from "../../shared/clock.js";
import {
  http,
  openAccount,
  registerCluster,
  transfer,
  uniqueAccount,
} from "../support/bank-client.js";
import { TEST_ENV } from "../support/cluster-fixture.js";

interface Summary {
  txid: string;
  state: string;
  reason: string | null;
}
interface ListAnswer {
  transactions: Summary[];
  nextCursor: string | null;
}

describe("history: finished transactions move to the archive, and the API reads both", function () {
  let dir: string;
  let cluster: ClusterFile;
  let redis: Redis;
  let db: pg.Pool;
  let alice: string;
  let bob: string;

  before(async function () {
    this.timeout(180_000);
    dir = mkdtempSync(join(tmpdir(), "concord-archive-"));
    cluster = registerCluster(
      await startCluster({
        dir,
        banks: 2,
        inventory: 0,
        env: {
          ...TEST_ENV,
          CONCORD_ARCHIVE_AFTER_SECONDS: "1",
          CONCORD_ARCHIVE_INTERVAL_MS: "100",
        },
      }),
    );
    redis = new Redis(cluster.coordinator.adminRedisUrl);
    db = new pg.Pool({ connectionString: cluster.coordinator.adminArchiveDatabaseUrl, max: 2 });
    // Its server is stopped by one test: a lost idle connection is replaced, not thrown.
    db.on("error", () => undefined);
    alice = uniqueAccount("alice");
    bob = uniqueAccount("bob");
    await openAccount(cluster, "bank-a", alice, 1_000_000);
    await openAccount(cluster, "bank-b", bob, 0);
  });

  after(async function () {
    this.timeout(60_000);
    redis.disconnect();
    await db.end();
    await stopCluster(dir);
    removeOutsideData(dir);
    rmSync(dir, { recursive: true, force: true });
  });

  const coordinator = () => cluster.coordinator.url;
  const asClient = (n: 1 | 2) => ({
    headers: { authorization: `Bearer ${cluster.secrets.apiKeys[`client-${n}`] ?? ""}` },
  });
  const pay = async (amount: number, headers: Record<string, string> = {}) => {
    const r = await transfer(
      cluster,
      { from: { bank: "bank-a", account: alice }, to: { bank: "bank-b", account: bob }, amount },
      headers,
    );
    expect(r.status, JSON.stringify(r.data)).to.equal(200);
    return r.data.txid as string;
  };
  const inRedis = async (txid: string) => {
    const tag = `{concord:coordinator:${shardOf(txid)}}`;
    return (await redis.exists(`${tag}:tx:${txid}`, `${tag}:ev:${txid}`)) > 0;
  };
  const inArchive = async (txid: string) =>
    (await db.query("SELECT 1 FROM archived_transactions WHERE txid = $1", [txid])).rowCount === 1;
  /** Polls until every txid is in the archive and gone from Redis (bounded, generously). */
  const archived = async (txids: string[]) => {
    for (let i = 0; i < 1200; i++) {
      const left = [];
      for (const txid of txids)
        if ((await inRedis(txid)) || !(await inArchive(txid))) left.push(txid);
      if (left.length === 0) return;
      await sleep(100);
    }
    throw new Error("not archived in time");
  };
  const get = (txid: string, auth?: { headers: Record<string, string> }) =>
    http.get<Record<string, unknown>>(`${coordinator()}/v1/transactions/${txid}`, auth);
  const list = (query: string, auth?: { headers: Record<string, string> }) =>
    http.get<ListAnswer>(`${coordinator()}/v1/transactions?${query}`, auth);

  it("an archived transaction is gone from Redis, and GET answers exactly as before", async function () {
    this.timeout(180_000);
    const committed = await pay(5);
    const refused = await transfer(cluster, {
      from: { bank: "bank-a", account: alice },
      to: { bank: "bank-b", account: bob },
      amount: 10_000_000,
    });
    const aborted = refused.data.txid as string;
    const before = await Promise.all([get(committed), get(aborted)]);
    for (const r of before) expect(r.status).to.equal(200);
    await archived([committed, aborted]);
    const after = await Promise.all([get(committed), get(aborted)]);
    expect(after.map((r) => r.data)).to.deep.equal(before.map((r) => r.data));
    // Every index entry went too: nothing in Redis grows with history.
    const shard = shardOf(committed);
    expect(await redis.zscore(`{concord:coordinator:${shard}}:finished`, committed)).to.equal(null);
    expect(
      await redis.zscore(`{concord:coordinator:${shard}}:client:client-1`, committed),
    ).to.equal(null);
    const events = await db.query<{ type: string }>(
      "SELECT type FROM archived_events WHERE txid = $1 ORDER BY seq",
      [committed],
    );
    expect(events.rows.map((e) => e.type)).to.include.members(["begin", "decision", "end"]);
  });

  it("pages through Redis and the archive newest first, with filters, without gaps or duplicates", async function () {
    this.timeout(180_000);
    const since = new Date().toISOString();
    const older: string[] = [];
    for (let i = 0; i < 6; i++) older.push(await pay(1));
    await archived(older);
    const newer: string[] = [];
    for (let i = 0; i < 6; i++) newer.push(await pay(1));
    const seen: string[] = [];
    let cursor: string | null = null;
    for (let page = 0; page < 20; page++) {
      const q = `since=${encodeURIComponent(since)}&participant=bank-b&state=committed&limit=4`;
      const r: { status: number; data: ListAnswer } = await list(
        cursor ? `${q}&cursor=${encodeURIComponent(cursor)}` : q,
      );
      expect(r.status, JSON.stringify(r.data)).to.equal(200);
      seen.push(...r.data.transactions.map((t) => t.txid));
      cursor = r.data.nextCursor;
      if (!cursor) break;
    }
    expect(seen).to.deep.equal([...older, ...newer].reverse());
  });

  it("a client sees only its own transactions, in Redis or archived", async function () {
    this.timeout(180_000);
    const theirs = await pay(2, asClient(2).headers);
    await archived([theirs]);
    expect((await get(theirs, asClient(1))).status).to.equal(404);
    expect((await get(theirs, asClient(2))).status).to.equal(200);
    const mine = await list("limit=500", asClient(1));
    expect(mine.data.transactions.map((t) => t.txid)).not.to.include(theirs);
    const own = await list("limit=5", asClient(2));
    expect(own.data.transactions.map((t) => t.txid)).to.include(theirs);
  });

  it("a request repeated with its Idempotency-Key after archiving gets the first answer", async function () {
    this.timeout(180_000);
    const key = `archive-${Date.now()}`;
    const first = await transfer(
      cluster,
      { from: { bank: "bank-a", account: alice }, to: { bank: "bank-b", account: bob }, amount: 3 },
      { "idempotency-key": key },
    );
    expect(first.status).to.equal(200);
    await archived([first.data.txid as string]);
    const again = await transfer(
      cluster,
      { from: { bank: "bank-a", account: alice }, to: { bank: "bank-b", account: bob }, amount: 3 },
      { "idempotency-key": key },
    );
    expect(again.headers["idempotent-replayed"]).to.equal("true");
    // The replay is read back from the log, which keeps outcomes and votes, not read results.
    const shape = (d: typeof first.data) => ({
      txid: d.txid,
      outcome: d.outcome,
      attempts: d.attempts,
      participants: d.participants?.map((p) => ({ name: p.name, state: p.state, vote: p.vote })),
    });
    expect(shape(again.data)).to.deep.equal(shape(first.data));
  });

  it("the coordinator reaches its archive as its own role: no superuser, no role or database creation", async function () {
    const client = new pg.Client({ connectionString: cluster.coordinator.archiveDatabaseUrl });
    await client.connect();
    try {
      const { rows } = await client.query<Record<string, unknown>>(
        "SELECT current_user AS name, rolsuper, rolcreaterole, rolcreatedb FROM pg_roles WHERE rolname = current_user",
      );
      expect(rows[0]).to.deep.equal({
        name: "coordinator",
        rolsuper: false,
        rolcreaterole: false,
        rolcreatedb: false,
      });
    } finally {
      await client.end();
    }
  });

  it("refuses bad filters with a 400 naming the field", async function () {
    for (const [query, field] of [
      ["since=yesterday", "query.since"],
      ["until=2026-13-45T00:00:00Z", "query.until"],
      ["participant=Bank_A", "query.participant"],
      ["cursor=not-a-cursor", "query.cursor"],
      ["state=done", "query.state"],
      ["limit=0", "query.limit"],
      ["colour=red", "query"],
    ] as const) {
      const r = await http.get<{ error: { message: string } }>(
        `${coordinator()}/v1/transactions?${query}`,
      );
      expect(r.status, query).to.equal(400);
      expect(r.data.error.message, query).to.match(new RegExp(`^${field.replace(".", "\\.")}\\b`));
    }
  });

  it("with the archive's PostgreSQL down, transactions commit; archiving resumes after", async function () {
    this.timeout(240_000);
    const spec = cluster.processes.find((p) => p.name === "postgres-coordinator");
    if (!spec) throw new Error("no postgres-coordinator in the cluster");
    await stopProcess(spec.pid, spec.marker, "SIGINT");
    const during: string[] = [];
    for (let i = 0; i < 3; i++) during.push(await pay(1));
    // Still readable while it waits in Redis.
    for (const txid of during) {
      const r = await get(txid);
      expect(r.status).to.equal(200);
      expect(r.data.state).to.equal("committed");
    }
    await restartProcess(dir, "postgres-coordinator");
    await archived(during);
    for (const txid of during) expect((await get(txid)).data.state).to.equal("committed");
  });
});
