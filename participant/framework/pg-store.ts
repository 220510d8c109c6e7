import pg from "pg";
import type { Logger } from "../../shared/logger.js";
import { UnsafeConfigurationError } from "../../shared/errors.js";

/** How concord_refuse marks its errors. */
export const REFUSAL_PREFIX = "concord-refuse:";

/** The framework's own table: one row per txid, the outcome (or tombstone) of each transaction. */
export const FRAMEWORK_MIGRATIONS: Migration[] = [
  {
    relation: "concord_txn",
    sql: `CREATE TABLE IF NOT EXISTS concord_txn (
            txid uuid PRIMARY KEY,
            state text NOT NULL CHECK (state IN ('committed', 'aborted')),
            at timestamptz NOT NULL DEFAULT now()
          )`,
  },
  {
    // Lets an application's statements refuse from inside SQL (a row not found, a version
    // conflict), so that a whole PREPARE can go to PostgreSQL in one round trip and stop before
    // PREPARE TRANSACTION. The message carries the refusal as JSON; see refusalFromSql.
    relation: "concord_refuse(text)",
    kind: "function",
    sql: `CREATE OR REPLACE FUNCTION concord_refuse(detail text) RETURNS text LANGUAGE plpgsql AS $$
          BEGIN
            RAISE EXCEPTION USING ERRCODE = 'P0001', MESSAGE = '${REFUSAL_PREFIX}' || detail;
          END $$`,
  },
];

export function createPool(url: string, max: number, logger: Logger, lockTimeoutMs?: number): pg.Pool {
  const pool = new pg.Pool({
    connectionString: url,
    max,
    connectionTimeoutMillis: 5000,
    idleTimeoutMillis: 30_000,
    // A session-wide lock timeout, for pools whose statements must never wait without bound.
    ...(lockTimeoutMs !== undefined ? { options: `-c lock_timeout=${Math.floor(lockTimeoutMs)}` } : {}),
  });
  // A connection dies when PostgreSQL restarts; the pool replaces it. Without these listeners
  // the error event would crash the process: the pool's covers idle connections, and each
  // client's own covers the moments a checked-out connection is between two queries.
  pool.on("error", (err) => logger.warn({ err: err.message }, "idle PostgreSQL connection lost"));
  pool.on("connect", (client) => {
    client.on("error", (err) => logger.warn({ err: err.message }, "PostgreSQL connection lost"));
  });
  return pool;
}

/**
 * PREPARE TRANSACTION is disabled when max_prepared_transactions is 0 (PostgreSQL's default).
 * Finding out at the first transfer would turn every vote into NO; stop at start-up instead.
 */
export async function ensurePreparedTransactions(pool: pg.Pool, poolSize: number, logger: Logger): Promise<number> {
  const { rows } = await pool.query<{ max_prepared_transactions: string }>("SHOW max_prepared_transactions");
  const max = Number(rows[0]?.max_prepared_transactions ?? 0);
  if (max === 0) {
    throw new UnsafeConfigurationError(
      "PostgreSQL has max_prepared_transactions = 0, which disables PREPARE TRANSACTION. " +
        "Start the server with -c max_prepared_transactions=N (N at least the participant's pool size, CONCORD_PG_POOL_SIZE), or set it in postgresql.conf and restart.",
    );
  }
  if (max < poolSize) logger.warn({ max_prepared_transactions: max, poolSize }, "max_prepared_transactions is below the pool size; prepares may fail under load");
  return max;
}

/** A schema object and the DDL that creates it. */
export interface Migration {
  /** What the DDL creates (a table or index, or a function's signature); its presence means the step is done. */
  relation: string;
  kind?: "relation" | "function";
  sql: string;
}

/**
 * A refusal raised by concord_refuse inside an application's statements, as the NO vote's reason
 * and detail; undefined for any other error.
 */
export function refusalFromSql(err: unknown): { reason: string; detail: Record<string, unknown> } | undefined {
  const e = err as { code?: unknown; message?: unknown } | undefined;
  if (e?.code !== "P0001" || typeof e.message !== "string" || !e.message.startsWith(REFUSAL_PREFIX)) return undefined;
  try {
    const { reason, ...detail } = JSON.parse(e.message.slice(REFUSAL_PREFIX.length)) as Record<string, unknown>;
    return typeof reason === "string" ? { reason, detail } : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Runs the migrations that are not applied yet, once, even when several participants start
 * against one database. Steps already applied are skipped without touching their tables: DDL
 * such as CREATE INDEX IF NOT EXISTS takes a lock that conflicts with the row locks of prepared
 * transactions, and a restarted participant with transactions still prepared would otherwise
 * hang at start-up, before it could serve the COMMIT that releases them.
 */
export async function migrate(pool: pg.Pool, migrations: readonly Migration[]): Promise<void> {
  const missing = async (client: pg.PoolClient) => {
    const { rows } = await client.query<{ relation: string; present: boolean }>(
      "SELECT r AS relation, CASE WHEN k = 'function' THEN to_regprocedure(r) IS NOT NULL ELSE to_regclass(r) IS NOT NULL END AS present FROM unnest($1::text[], $2::text[]) AS m(r, k)",
      [migrations.map((m) => m.relation), migrations.map((m) => m.kind ?? "relation")],
    );
    const absent = new Set(rows.filter((r) => !r.present).map((r) => r.relation));
    return migrations.filter((m) => absent.has(m.relation));
  };
  const client = await pool.connect();
  try {
    if ((await missing(client)).length === 0) return;
    await client.query("BEGIN");
    await client.query("SET LOCAL lock_timeout = '30s'");
    await client.query("SELECT pg_advisory_xact_lock(4207001)");
    for (const m of await missing(client)) await client.query(m.sql);
    await client.query("COMMIT");
  } catch (err) {
    await client.query("ROLLBACK").catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}
