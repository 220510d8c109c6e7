/**
 * The README's "Write your own participant" example, run as a user would: its code block copied
 * out of README.md into a file inside the package folder (next to this compiled helper, so that
 * `import ... from "concord/participant"` resolves through the package's own `exports`), started
 * with `node` against a fresh database and its own Redis user on the shared test cluster, and a
 * coordinator of its own that lists it.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Redis } from "ioredis";
import pg from "pg";
import {
  freePort,
  isOurProcess,
  spawnDetached,
  spawnHealthy,
  stopProcess,
  waitUntil,
  type ProcessSpec,
} from "../../scripts/cluster/processes.js";
import { redisReady, redisSpec, redisUrl } from "../../scripts/cluster/redis.js";
import type { BankEntry } from "../../scripts/cluster/cluster-file.js";
import {
  ADMIN_ACL_RULES,
  ADMIN_REDIS_USER,
  logNamespace,
  serviceAclRules,
} from "../../shared/redis-acl.js";
import { http } from "./bank-client.js";

/** The line right before the code block in README.md. */
export const README_PARTICIPANT_MARKER = "<!-- readme-participant: points -->";

const README = fileURLToPath(new URL("../../../README.md", import.meta.url));
const COORDINATOR_MAIN = fileURLToPath(new URL("../../coordinator/main.js", import.meta.url));

/** The ```js block after the marker, exactly as written. */
export function readmeParticipantCode(): string {
  const readme = readFileSync(README, "utf8");
  const opening = `${README_PARTICIPANT_MARKER}\n\n\`\`\`js\n`;
  const start = readme.indexOf(opening);
  if (start < 0)
    throw new Error(`README.md has no ${README_PARTICIPANT_MARKER} followed by a js block`);
  const end = readme.indexOf("\n```\n", start + opening.length);
  if (end < 0) throw new Error("the README's participant code block does not end");
  return readme.slice(start + opening.length, end + 1);
}

/** Writes the README's code into the package folder (dist/test/support/); returns its path. */
export function writeReadmeParticipant(): string {
  const file = fileURLToPath(
    new URL(`./readme-points-participant-${process.pid}.mjs`, import.meta.url),
  );
  writeFileSync(file, readmeParticipantCode());
  return file;
}

const hex = (bytes: number) => randomBytes(bytes).toString("hex");

export interface RunningReadmeParticipant {
  name: string;
  url: string;
  /** The HMAC secret it shares with the coordinator. */
  secret: string;
  adminSecret: string;
  /** Its database as the server's superuser (for checks and clean-up). */
  adminDatabaseUrl: string;
  log: string;
  stop: () => Promise<void>;
}

/** A new role and a database it owns on `server`'s PostgreSQL; returns both URLs. */
async function freshDatabase(
  server: BankEntry,
  database: string,
): Promise<{ url: string; adminUrl: string }> {
  const password = hex(24);
  const admin = new pg.Client({ connectionString: server.adminDatabaseUrl });
  await admin.connect();
  try {
    // Names are ours ([a-z0-9_]); the password is hex. DDL takes no parameters.
    await admin.query(`CREATE ROLE ${database} LOGIN PASSWORD '${password}'`);
    await admin.query(`CREATE DATABASE ${database} OWNER ${database}`);
  } finally {
    await admin.end();
  }
  const at = (user: string, pass: string) => {
    const u = new URL(server.adminDatabaseUrl);
    u.username = user;
    u.password = pass;
    u.pathname = `/${database}`;
    return u.toString();
  };
  const adminUrl = new URL(server.adminDatabaseUrl);
  adminUrl.pathname = `/${database}`;
  return { url: at(database, password), adminUrl: adminUrl.toString() };
}

/** A Redis user of its own on `server`'s journal Redis, limited to its own keys (as the cluster does). */
async function redisUserFor(server: BankEntry, name: string): Promise<string> {
  const password = hex(24);
  const admin = new Redis(server.adminRedisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await admin.connect();
  try {
    const rules = serviceAclRules(logNamespace({ participant: name }));
    await admin.call("ACL", "SETUSER", name, "reset", "on", `>${password}`, ...rules);
  } finally {
    admin.disconnect();
  }
  const u = new URL(server.adminRedisUrl);
  u.username = name;
  u.password = password;
  return u.toString();
}

/**
 * Starts the README's participant file as `name`, on a fresh database of `server`'s PostgreSQL
 * and a Redis user of its own on `server`'s journal Redis, configured by environment variables
 * as the README says.
 */
export async function startReadmeParticipant(p: {
  file: string;
  name: string;
  server: BankEntry;
  dir: string;
  coordinatorUrl: string;
}): Promise<RunningReadmeParticipant> {
  const database = `concord_readme_${p.name.replace(/-/g, "_")}_${process.pid}`;
  const db = await freshDatabase(p.server, database);
  const port = await freePort();
  const secret = hex(32);
  const adminSecret = hex(32);
  const spec: ProcessSpec = {
    name: p.name,
    role: "participant",
    command: process.execPath,
    args: [p.file, `--concord-name=${p.name}`],
    env: {
      CONCORD_PARTICIPANT_NAME: p.name,
      CONCORD_PARTICIPANT_SECRET: secret,
      CONCORD_DATABASE_URL: db.url,
      CONCORD_REDIS_URL: await redisUserFor(p.server, p.name),
      CONCORD_COORDINATOR_URL: p.coordinatorUrl,
      CONCORD_ADMIN_SECRET: adminSecret,
      CONCORD_PORT: String(port),
      CONCORD_PG_POOL_SIZE: "5",
      CONCORD_PG_DECISION_POOL_SIZE: "2",
      CONCORD_LOG_LEVEL: "info",
    },
    port,
    url: `http://127.0.0.1:${port}`,
    log: join(p.dir, `${p.name}.log`),
    marker: `--concord-name=${p.name}`,
    stopSignal: "SIGTERM",
  };
  const url = `http://127.0.0.1:${port}`;
  const { stop } = await spawnHealthy(spec, url);
  return {
    name: p.name,
    url,
    secret,
    adminSecret,
    adminDatabaseUrl: db.adminUrl,
    log: spec.log,
    stop,
  };
}

/** Prepared transactions of `participant` in its database: after each test this must be zero. */
export async function preparedAt(participant: RunningReadmeParticipant): Promise<string[]> {
  const db = new pg.Client({ connectionString: participant.adminDatabaseUrl });
  await db.connect();
  try {
    const { rows } = await db.query<{ gid: string }>(
      "SELECT gid FROM pg_prepared_xacts WHERE starts_with(gid, $1)",
      [`concord:${participant.name}:`],
    );
    return rows.map((r) => r.gid);
  } finally {
    await db.end();
  }
}

/** The names of a table's CHECK constraints in the participant's database. */
export async function checkConstraintsOf(
  participant: RunningReadmeParticipant,
  table: string,
): Promise<string[]> {
  const db = new pg.Client({ connectionString: participant.adminDatabaseUrl });
  await db.connect();
  try {
    const { rows } = await db.query<{ name: string }>(
      "SELECT conname AS name FROM pg_constraint WHERE conrelid = to_regclass($1) AND contype = 'c' ORDER BY conname",
      [table],
    );
    return rows.map((r) => r.name);
  } finally {
    await db.end();
  }
}

/** Rolls back what a failed test left prepared, so no other suite on the server sees it. */
export async function rollBackLeftovers(participant: RunningReadmeParticipant): Promise<void> {
  const gids = await preparedAt(participant);
  if (gids.length === 0) return;
  const db = new pg.Client({ connectionString: participant.adminDatabaseUrl });
  await db.connect();
  try {
    for (const gid of gids) await db.query(`ROLLBACK PREPARED '${gid.replace(/'/g, "''")}'`);
  } finally {
    await db.end();
  }
}

export interface OwnCoordinator {
  url: string;
  apiKey: string;
  /** Rewrites the coordinator's participants file with exactly these participants. */
  register: (participants: readonly RegisteredParticipant[]) => void;
  stop: () => Promise<void>;
}

export interface RegisteredParticipant {
  name: string;
  url: string;
  secret: string;
}

/** The coordinator's participants file (CONCORD_PARTICIPANTS_FILE), replaced whole by a rename. */
function writeParticipantsFile(path: string, participants: readonly RegisteredParticipant[]): void {
  const entries = Object.fromEntries(
    participants.map((x) => [x.name, { url: x.url, secret: x.secret }]),
  );
  writeFileSync(`${path}.tmp`, `${JSON.stringify({ participants: entries }, null, 2)}\n`, {
    mode: 0o600,
  });
  renameSync(`${path}.tmp`, path);
}

/**
 * A coordinator of its own, with its own durable Redis, whose participants file
 * (CONCORD_PARTICIPANTS_FILE) lists the given participants; `register` rewrites it, and the
 * coordinator reads it again without a restart.
 */
export async function startOwnCoordinator(p: {
  dir: string;
  port: number;
  participants: readonly RegisteredParticipant[];
}): Promise<OwnCoordinator> {
  const redisPort = await freePort();
  const adminPassword = hex(32);
  const coordinatorPassword = hex(32);
  const redis = redisSpec({
    name: "redis-readme-coordinator",
    dataDir: join(p.dir, "redis"),
    port: redisPort,
    log: join(p.dir, "redis.log"),
    users: [
      { name: ADMIN_REDIS_USER, password: adminPassword, rules: ADMIN_ACL_RULES },
      {
        name: "coordinator",
        password: coordinatorPassword,
        rules: serviceAclRules(logNamespace("coordinator")),
      },
    ],
  });
  const redisPid = spawnDetached(redis);
  const stopRedis = async () => {
    await stopProcess(redisPid, redis.marker, redis.stopSignal);
  };
  const apiKey = hex(32);
  const participantsFile = join(p.dir, "participants.json");
  writeParticipantsFile(participantsFile, p.participants);
  const spec: ProcessSpec = {
    name: "coordinator-readme",
    role: "coordinator",
    command: process.execPath,
    args: [COORDINATOR_MAIN, `--concord-dir=${p.dir}`],
    env: {
      CONCORD_PORT: String(p.port),
      CONCORD_REDIS_URL: redisUrl(redisPort, "coordinator", coordinatorPassword),
      CONCORD_PARTICIPANTS_FILE: participantsFile,
      CONCORD_API_KEYS: `client-1=${apiKey}`,
      CONCORD_LOG_LEVEL: "warn",
    },
    port: p.port,
    log: join(p.dir, "coordinator.log"),
    marker: `--concord-dir=${p.dir}`,
    stopSignal: "SIGTERM",
  };
  let coordinatorPid: number | undefined;
  const stop = async () => {
    if (coordinatorPid !== undefined)
      await stopProcess(coordinatorPid, spec.marker, spec.stopSignal, 5000);
    await stopRedis();
  };
  const url = `http://127.0.0.1:${p.port}`;
  try {
    await waitUntil(
      redis.name,
      () => redisReady(redisUrl(redisPort, ADMIN_REDIS_USER, adminPassword)),
      { timeoutMs: 30_000, alive: () => isOurProcess(redisPid, redis.marker), log: redis.log },
    );
    const pid = spawnDetached(spec);
    coordinatorPid = pid;
    await waitUntil(spec.name, async () => (await http.get(`${url}/healthz`)).status === 200, {
      timeoutMs: 30_000,
      alive: () => isOurProcess(pid, spec.marker),
      log: spec.log,
    });
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    url,
    apiKey,
    register: (participants) => {
      writeParticipantsFile(participantsFile, participants);
    },
    stop,
  };
}

/** A temporary folder for logs and the coordinator's Redis; removed by the returned function. */
export function scratchDir(): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), "concord-readme-participant-"));
  return {
    dir,
    remove: () => {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
