/** A private PostgreSQL server per participant: initdb into the state folder, prepared transactions on. */
import { spawnSync } from "node:child_process";
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { createHash } from "node:crypto";
import { tmpdir, userInfo } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { runOrFail, type ProcessSpec } from "./processes.js";

/**
 * The SQL that creates a participant's database and role (any application's: it only creates the
 * role and an empty database it owns); docker-compose runs the same file.
 */
export const BANK_DATABASE_SQL = join(
  dirname(fileURLToPath(import.meta.url)),
  "..",
  "postgres",
  "init-bank-database.sql",
);

/**
 * Prepared-transaction slots per server: twice what one client may have in flight by default
 * (CONCORD_CLIENT_MAX_IN_FLIGHT, 64), so one client alone cannot take every slot of a bank.
 */
export const MAX_PREPARED_TRANSACTIONS = 128;

export function postgresBinDir(): string {
  if (process.env.CONCORD_PG_BIN) return process.env.CONCORD_PG_BIN;
  const base = "/usr/lib/postgresql";
  if (existsSync(base)) {
    const versions = readdirSync(base)
      .filter((v) => /^\d+$/.test(v))
      .sort((a, b) => Number(b) - Number(a));
    for (const v of versions)
      if (existsSync(join(base, v, "bin", "postgres"))) return join(base, v, "bin");
  }
  const r = spawnSync("pg_config", ["--bindir"], { encoding: "utf8" });
  if (r.status === 0 && r.stdout.trim()) return r.stdout.trim();
  throw new Error(
    "PostgreSQL server binaries not found: install PostgreSQL 15+ (apt-get install postgresql) or set CONCORD_PG_BIN to the folder holding initdb and postgres",
  );
}

/** PostgreSQL refuses to run as root; as root we run it as the unprivileged `postgres` user. */
export function postgresUser(): { uid: number; gid: number } | undefined {
  if (userInfo().uid !== 0) return undefined;
  const r = spawnSync("id", ["-u", "postgres"], { encoding: "utf8" });
  const g = spawnSync("id", ["-g", "postgres"], { encoding: "utf8" });
  if (r.status !== 0 || g.status !== 0)
    throw new Error(
      "running as root, but there is no `postgres` user to run PostgreSQL as: create one (useradd -r postgres) or run as a normal user",
    );
  return { uid: Number(r.stdout.trim()), gid: Number(g.stdout.trim()) };
}

/**
 * Where a bank's data folder goes. The server runs as `postgres`, which must be able to reach
 * it: when some parent of the state folder is closed to other users (a mktemp folder, /root),
 * the data goes to a folder under the system's temp directory named after the state folder, so
 * a restart finds it again.
 */
export function postgresDataRoot(
  stateDir: string,
  user: { uid: number; gid: number } | undefined,
): string {
  const wanted = join(stateDir, "postgres");
  if (!user || reachableBy(stateDir, user)) return wanted;
  const id = createHash("sha256").update(resolve(stateDir)).digest("hex").slice(0, 12);
  return join(tmpdir(), `concord-postgres-${id}`);
}

/** Removes PostgreSQL data that lives outside the state folder (the fallback above). */
export function removeOutsideData(stateDir: string): void {
  const id = createHash("sha256").update(resolve(stateDir)).digest("hex").slice(0, 12);
  rmSync(join(tmpdir(), `concord-postgres-${id}`), { recursive: true, force: true });
}

function reachableBy(dir: string, user: { uid: number; gid: number }): boolean {
  mkdirSync(dir, { recursive: true });
  const r = spawnSync("test", ["-x", resolve(dir)], { uid: user.uid, gid: user.gid });
  return r.status === 0;
}

export function initPostgres(
  dataDir: string,
  password: string,
  user: { uid: number; gid: number } | undefined,
): void {
  if (existsSync(join(dataDir, "PG_VERSION"))) return;
  // The folder of the data folders: the server's user's alone.
  mkdirSync(dirname(dataDir), { recursive: true, mode: 0o700 });
  chmodSync(dirname(dataDir), 0o700);
  if (user) chownSync(dirname(dataDir), user.uid, user.gid);
  if (existsSync(dataDir)) rmSync(dataDir, { recursive: true, force: true });
  mkdirSync(dataDir, { mode: 0o700 });
  const pwfile = `${dataDir}.pw`;
  writeFileSync(pwfile, `${password}\n`, { mode: 0o600 });
  if (user) {
    chownSync(dataDir, user.uid, user.gid);
    chownSync(pwfile, user.uid, user.gid);
  }
  try {
    runOrFail(
      join(postgresBinDir(), "initdb"),
      [
        "-D",
        dataDir,
        "-U",
        "postgres",
        "--auth-local=trust",
        "--auth-host=scram-sha-256",
        `--pwfile=${pwfile}`,
        "-E",
        "UTF8",
        "--locale=C",
        "--no-instructions",
      ],
      user ?? {},
    );
  } finally {
    rmSync(pwfile, { force: true });
  }
}

export function postgresSpec(p: {
  name: string;
  dataDir: string;
  port: number;
  log: string;
  user: { uid: number; gid: number } | undefined;
  maxPrepared?: number;
}): ProcessSpec {
  return {
    name: p.name,
    role: "postgres",
    command: join(postgresBinDir(), "postgres"),
    args: [
      "-D",
      p.dataDir,
      "-p",
      String(p.port),
      "-c",
      "listen_addresses=127.0.0.1",
      "-c",
      "unix_socket_directories=",
      "-c",
      `max_prepared_transactions=${p.maxPrepared ?? MAX_PREPARED_TRANSACTIONS}`,
      "-c",
      "max_connections=200",
      "-c",
      "fsync=on",
      "-c",
      "synchronous_commit=on",
      "-c",
      "log_min_messages=warning",
      // A business refusal (a CHECK violation, a lock timeout, concord_refuse) is an ERROR by design:
      // it stops the participant's one-round-trip statement batch before PREPARE. One line each,
      // then, without the batch (~20 lines) or the failing row (DETAIL): README "Metrics and logs".
      ...POSTGRES_LOG_SETTINGS.flatMap((setting) => ["-c", setting]),
    ],
    env: {},
    ...(p.user ? { uid: p.user.uid, gid: p.user.gid } : {}),
    port: p.port,
    log: p.log,
    marker: p.dataDir,
    stopSignal: "SIGINT",
  };
}

/**
 * How every Concord PostgreSQL logs errors (the local cluster's and docker-compose.yml's): the
 * error's one line, not the statement that raised it nor its details.
 */
export const POSTGRES_LOG_SETTINGS = ["log_min_error_statement=panic", "log_error_verbosity=terse"];

/** A database URL; the user defaults to the server's superuser, `postgres`. */
export function databaseUrl(
  port: number,
  password: string,
  database: string,
  user = "postgres",
): string {
  return `postgres://${encodeURIComponent(user)}:${encodeURIComponent(password)}@127.0.0.1:${port}/${database}`;
}

/**
 * The database, and the role a participant connects as, for its name: `concord_bank_a`,
 * `concord_inventory`.
 */
export function participantDatabaseName(participant: string): string {
  return `concord_${participant.replace(/-/g, "_")}`;
}

/**
 * Creates (or brings up to date) a participant's database and its own role, not a superuser, by running
 * the same SQL file docker-compose runs (scripts/postgres/init-bank-database.sql), through psql
 * with the names and the password in the environment.
 */
export function ensureParticipantDatabase(p: {
  port: number;
  adminPassword: string;
  database: string;
  role: string;
  rolePassword: string;
}): void {
  runOrFail(
    join(postgresBinDir(), "psql"),
    ["-X", "-q", "-v", "ON_ERROR_STOP=1", "-f", BANK_DATABASE_SQL],
    {
      env: {
        PGHOST: "127.0.0.1",
        PGPORT: String(p.port),
        PGUSER: "postgres",
        PGPASSWORD: p.adminPassword,
        PGDATABASE: "postgres",
        PGCONNECT_TIMEOUT: "5",
        CONCORD_DB_NAME: p.database,
        CONCORD_DB_USER: p.role,
        CONCORD_DB_PASSWORD: p.rolePassword,
      },
    },
  );
}

export async function postgresReady(port: number, password: string): Promise<boolean> {
  const client = new pg.Client({
    connectionString: databaseUrl(port, password, "postgres"),
    connectionTimeoutMillis: 1000,
  });
  try {
    await client.connect();
    await client.query("SELECT 1");
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

export async function ensureDatabase(
  port: number,
  password: string,
  database: string,
): Promise<void> {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(database))
    throw new Error(`invalid database name ${database}`);
  const client = new pg.Client({ connectionString: databaseUrl(port, password, "postgres") });
  await client.connect();
  try {
    const { rowCount } = await client.query("SELECT 1 FROM pg_database WHERE datname = $1", [
      database,
    ]);
    if (rowCount === 0) await client.query(`CREATE DATABASE ${database}`);
  } finally {
    await client.end();
  }
}
