import { expect } from "chai";
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { Redis } from "ioredis";
import pg from "pg";
import { adminSecretOf, type ClusterFile } from "../../scripts/cluster/cluster-file.js";
import { signerFor, type Signer } from "../../shared/auth.js";
import { newTxid } from "../../shared/ids.js";
import {
  bankUrl,
  http,
  openAccount,
  preparedLeft,
  raw,
  settled,
  snapshot,
  transfer,
  uniqueAccount,
} from "../support/bank-client.js";
import { txidOf } from "../support/answers.js";
import { sharedCluster } from "../support/cluster-fixture.js";

/** What a compromised bank-a holds: exactly its process's environment in the cluster. */
interface Stolen {
  databaseUrl: string;
  redisUrl: string;
  participantSecret: string;
  peerSecrets: Map<string, string>;
  adminSecret: string;
}

function stolenFrom(cluster: ClusterFile, bank: string): Stolen {
  const env = cluster.processes.find((p) => p.name === bank)?.env;
  if (!env) throw new Error(`no process ${bank}`);
  // The cluster gives each participant its peers (and their pair secrets) in a file.
  const file = JSON.parse(readFileSync(env.CONCORD_PEERS_FILE ?? "", "utf8")) as {
    peers: Record<string, { url: string; secret: string }>;
  };
  const peers = new Map(
    Object.entries(file.peers).map(([name, e]): [string, string] => [name, e.secret]),
  );
  return {
    databaseUrl: env.CONCORD_DATABASE_URL ?? "",
    redisUrl: env.CONCORD_REDIS_URL ?? "",
    participantSecret: env.CONCORD_PARTICIPANT_SECRET ?? "",
    peerSecrets: peers,
    adminSecret: env.CONCORD_ADMIN_SECRET ?? "",
  };
}

/** `url` with its host port (and optionally its database) replaced. */
function retarget(url: string, port: number, database?: string): string {
  const u = new URL(url);
  u.port = String(port);
  if (database !== undefined) u.pathname = `/${database}`;
  return u.toString();
}

async function pgError(url: string, sql?: string): Promise<string | undefined> {
  const db = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  try {
    await db.connect();
    if (sql) await db.query(sql);
    return undefined;
  } catch (err) {
    return (err as { code?: string }).code ?? (err as Error).message;
  } finally {
    await db.end().catch(() => undefined);
  }
}

async function redisReply(url: string, ...command: string[]): Promise<string> {
  const redis = new Redis(url, {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    connectTimeout: 2000,
    enableReadyCheck: false,
  });
  // A refused AUTH closes the connection: the rejection then says only that, the event says why.
  let refusal: Error | undefined;
  redis.on("error", (err: Error) => (refusal = err));
  try {
    await redis.connect();
    const [name, ...args] = command;
    return String(await redis.call(name as string, ...args));
  } catch (err) {
    return refusal?.message ?? (err as Error).message;
  } finally {
    redis.disconnect();
  }
}

/**
 * Least privilege: every service holds only its own credentials. A compromised bank-a (its
 * database URL, its journal's Redis URL, its participant secret, its peer secrets, its admin
 * secret) tries everything it should not reach.
 */
describe("least privilege: a compromised bank reaches nothing but its own", function () {
  let cluster: ClusterFile;
  let stolen: Stolen;
  const port = (name: string) => {
    const p = cluster.processes.find((x) => x.name === name);
    if (!p) throw new Error(`no process ${name}`);
    return p.port;
  };

  before(async function () {
    this.timeout(120_000);
    cluster = await sharedCluster();
    stolen = stolenFrom(cluster, "bank-a");
  });

  it("bank-a's database role is no superuser and can create no role or database; it owns its own database only", async function () {
    const db = new pg.Client({ connectionString: stolen.databaseUrl });
    await db.connect();
    try {
      const { rows } = await db.query(
        "SELECT rolsuper, rolcreaterole, rolcreatedb, rolreplication, rolbypassrls FROM pg_roles WHERE rolname = current_user",
      );
      expect(rows[0]).to.deep.equal({
        rolsuper: false,
        rolcreaterole: false,
        rolcreatedb: false,
        rolreplication: false,
        rolbypassrls: false,
      });
    } finally {
      await db.end();
    }
    const denied = [
      "CREATE ROLE intruder LOGIN",
      "ALTER SYSTEM SET fsync = off",
      "COPY (SELECT 1) TO PROGRAM 'true'",
      "SELECT rolpassword FROM pg_authid",
      "SELECT pg_read_file('postgresql.conf')",
      "CREATE DATABASE intruder",
    ];
    for (const sql of denied) expect(await pgError(stolen.databaseUrl, sql), sql).to.equal("42501");
    // Not even its own server's maintenance database.
    expect(
      await pgError(retarget(stolen.databaseUrl, port("postgres-bank-a"), "postgres")),
    ).to.equal("42501");
  });

  it("bank-a's database password opens no other bank's PostgreSQL", async function () {
    for (const bank of ["bank-b", "bank-c"]) {
      const other = `concord_${bank.replace("-", "_")}`;
      for (const database of [other, "concord_bank_a", "postgres"]) {
        const code = await pgError(
          retarget(stolen.databaseUrl, port(`postgres-${bank}`), database),
        );
        expect(code, `${bank}/${database}`).to.be.oneOf(["28P01", "28000"]);
      }
    }
  });

  it("bank-a's journal user touches only its own keys and commands, and opens no other Redis", async function () {
    expect(await redisReply(stolen.redisUrl, "PING")).to.equal("PONG");
    expect(
      await redisReply(stolen.redisUrl, "SET", "{concord:participant:bank-a:0}:probe", "1"),
    ).to.equal("OK");
    for (const command of [
      ["SET", "{concord:coordinator:0}:tx:forged", "1"],
      ["SET", "{concord:participant:bank-b:0}:probe", "1"],
      ["GET", "anything"],
      ["FLUSHALL"],
      ["KEYS", "*"],
      ["CONFIG", "SET", "appendfsync", "no"],
      ["ACL", "LIST"],
      ["CLIENT", "LIST"],
      ["BGREWRITEAOF"],
      ["EVAL", "return redis.call('SET', 'elsewhere', '1')", "0"],
    ]) {
      expect(
        await redisReply(stolen.redisUrl, ...(command as [string, ...string[]])),
        command.join(" "),
      ).to.match(/NOPERM|no permissions|can't access/i);
    }
    for (const name of ["redis-coordinator", "redis-bank-b", "redis-bank-c"]) {
      expect(await redisReply(retarget(stolen.redisUrl, port(name)), "PING"), name).to.match(
        /WRONGPASS|invalid username-password/i,
      );
    }
    // No password at all opens nothing anywhere.
    for (const name of ["redis-coordinator", "redis-bank-a"]) {
      expect(await redisReply(`redis://127.0.0.1:${port(name)}`, "PING"), name).to.match(/NOAUTH/);
    }
  });

  it("bank-a's HMAC secrets cannot act as the coordinator, as another participant or as another peer", async function () {
    const start = await snapshot(cluster);
    const txid = newTxid();
    const post = (bank: string, path: string, body: unknown, sign: Signer) => {
      const text = JSON.stringify(body);
      return raw.post(`${bankUrl(cluster, bank)}${path}`, text, {
        headers: {
          "content-type": "application/json",
          ...sign("POST", path, text, "application/json"),
        },
        transformRequest: [(d: unknown) => d],
      });
    };
    const credit = { operations: [{ op: "credit", account: "anyone", amount: "1000" }] };
    const asCoordinatorWithMySecret = (audience: string) =>
      signerFor({ secret: stolen.participantSecret, keyId: "coordinator", audience });
    const asPeer = (keyId: string, audience: string, secret: string) =>
      signerFor({ secret, keyId, audience });
    const abSecret = stolen.peerSecrets.get("bank-b") ?? "";
    const acSecret = stolen.peerSecrets.get("bank-c") ?? "";
    const attempts: [string, Promise<{ status: number }>][] = [
      // Its coordinator secret, presented to bank-b as if from the coordinator.
      [
        "one-phase at bank-b as coordinator",
        post("bank-b", `/v1/2pc/${txid}/one-phase`, credit, asCoordinatorWithMySecret("bank-b")),
      ],
      [
        "batch at bank-b as coordinator",
        post(
          "bank-b",
          "/v1/2pc/batch",
          { messages: [{ txid, action: "one-phase", body: credit }] },
          asCoordinatorWithMySecret("bank-b"),
        ),
      ],
      // Its peer secret with bank-b: a peer may only ask.
      [
        "one-phase at bank-b as peer",
        post("bank-b", `/v1/2pc/${txid}/one-phase`, credit, asPeer("bank-a", "bank-b", abSecret)),
      ],
      [
        "commit at bank-b as peer",
        post("bank-b", `/v1/2pc/${txid}/commit`, {}, asPeer("bank-a", "bank-b", abSecret)),
      ],
      [
        "abort at bank-b as peer",
        post("bank-b", `/v1/2pc/${txid}/abort`, {}, asPeer("bank-a", "bank-b", abSecret)),
      ],
      [
        "batch at bank-b as peer",
        post(
          "bank-b",
          "/v1/2pc/batch",
          { messages: [{ txid, action: "abort", body: {} }] },
          asPeer("bank-a", "bank-b", abSecret),
        ),
      ],
      // Posing as bank-c towards bank-b, with each secret bank-a holds.
      [
        "inquiry at bank-b as bank-c (a-b secret)",
        post("bank-b", `/v1/2pc/${txid}/inquiry`, {}, asPeer("bank-c", "bank-b", abSecret)),
      ],
      [
        "inquiry at bank-b as bank-c (a-c secret)",
        post("bank-b", `/v1/2pc/${txid}/inquiry`, {}, asPeer("bank-c", "bank-b", acSecret)),
      ],
      [
        "inquiry at bank-b as bank-c (coordinator secret)",
        post(
          "bank-b",
          `/v1/2pc/${txid}/inquiry`,
          {},
          asPeer("bank-c", "bank-b", stolen.participantSecret),
        ),
      ],
    ];
    for (const [what, pending] of attempts) expect((await pending).status, what).to.equal(401);
    // At the coordinator: posing as bank-b with bank-a's secret.
    const path = `/v1/transactions/${txid}/decision`;
    const asB = signerFor({
      secret: stolen.participantSecret,
      keyId: "bank-b",
      audience: "coordinator",
    });
    expect(
      (await raw.get(`${cluster.coordinator.url}${path}`, { headers: asB("GET", path, "", "") }))
        .status,
    ).to.equal(401);
    // Nothing happened at bank-b for that txid: no tombstone, no journal entry.
    const status = await http.get(`${bankUrl(cluster, "bank-b")}/v1/2pc/${txid}`);
    expect(status.data).to.deep.include({ prepared: false, outcome: null, journal: null });
    // What a peer may do, it still can: ask bank-b as itself.
    expect(
      (await post("bank-b", `/v1/2pc/${txid}/inquiry`, {}, asPeer("bank-a", "bank-b", abSecret)))
        .status,
    ).to.equal(200);
    const end = await snapshot(cluster);
    expect(end.total).to.equal(start.total);
    expect(end.ledgerEntries).to.equal(start.ledgerEntries);
  });

  it("bank-a cannot learn or force the decision of a transaction it is not part of", async function () {
    const b = uniqueAccount("b");
    const c = uniqueAccount("c");
    await openAccount(cluster, "bank-b", b, 100);
    await openAccount(cluster, "bank-c", c, 0);
    const res = await transfer(cluster, {
      from: { bank: "bank-b", account: b },
      to: { bank: "bank-c", account: c },
      amount: 10,
    });
    expect(res.data.outcome).to.equal("committed");
    const path = `/v1/transactions/${txidOf(res)}/decision`;
    const asA = signerFor({
      secret: stolen.participantSecret,
      keyId: "bank-a",
      audience: "coordinator",
    });
    const asked = await raw.get(`${cluster.coordinator.url}${path}`, {
      headers: asA("GET", path, "", ""),
    });
    expect(asked.status).to.equal(403);
    await settled(cluster);
  });

  it("bank-a's admin secret opens nothing at another bank or at the coordinator", async function () {
    const auth = { headers: { authorization: `Bearer ${stolen.adminSecret}` } };
    expect(stolen.adminSecret).to.not.equal(adminSecretOf(cluster, "bank-b"));
    expect((await raw.get(`${bankUrl(cluster, "bank-b")}/v1/accounts`, auth)).status).to.equal(401);
    expect(
      (
        await raw.post(
          `${bankUrl(cluster, "bank-b")}/v1/accounts`,
          { id: uniqueAccount("x"), balance: "5" },
          auth,
        )
      ).status,
    ).to.equal(401);
    expect((await raw.get(`${bankUrl(cluster, "bank-b")}/v1/ledger`, auth)).status).to.equal(401);
    expect((await raw.get(`${cluster.coordinator.url}/v1/transactions`, auth)).status).to.equal(
      401,
    );
    expect(
      (await raw.post(`${cluster.coordinator.url}/v1/transactions`, {}, auth)).status,
    ).to.equal(401);
    expect(await preparedLeft(cluster)).to.equal(0);
  });

  it("the state folder (secrets, data, AOF files, logs) is closed to other users", function () {
    const mode = statSync(cluster.dir).mode & 0o777;
    expect(mode & 0o007, `state folder mode ${mode.toString(8)}`).to.equal(0);
    // Every file under it is for its owner (and, for PostgreSQL's data, the postgres user) only.
    const open: string[] = [];
    const walk = (dir: string) => {
      for (const name of readdirSync(dir)) {
        const path = join(dir, name);
        const st = statSync(path);
        if (st.mode & 0o007) open.push(`${path} ${(st.mode & 0o777).toString(8)}`);
        if (st.isDirectory()) walk(path);
      }
    };
    walk(join(cluster.dir, "redis"));
    walk(join(cluster.dir, "logs"));
    expect(open, "readable or writable by others").to.deep.equal([]);
    // PostgreSQL's data stays inside the state folder, each server's folder its owner's alone.
    for (const bank of cluster.banks) {
      expect(bank.postgresDataDir.startsWith(cluster.dir), bank.postgresDataDir).to.equal(true);
      expect(statSync(bank.postgresDataDir).mode & 0o077, bank.postgresDataDir).to.equal(0);
    }
    // Seen from another user: nothing can be read, not even by name.
    const nobody = spawnSync("id", ["-u", "nobody"], { encoding: "utf8" });
    if (process.getuid?.() !== 0 || nobody.status !== 0) return;
    const uid = Number(nobody.stdout.trim());
    const aof = join(cluster.dir, "redis", "coordinator", "appendonlydir");
    for (const target of [
      join(cluster.dir, "cluster.json"),
      join(cluster.dir, "logs", "coordinator.log"),
      aof,
    ]) {
      const r = spawnSync("ls", ["-l", target], { uid, gid: uid, encoding: "utf8" });
      expect(r.status, `${target} as nobody: ${r.stdout}`).to.not.equal(0);
      expect(r.stderr).to.match(/Permission denied/);
    }
  });
});
