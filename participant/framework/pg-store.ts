import pg from "pg";
import type { Logger } from "../../shared/logger.js";
import { UnsafeConfigurationError } from "../../shared/errors.js";

/** The framework's own table: one row per txid, the outcome (or tombstone) of each transaction. */
export const FRAMEWORK_MIGRATIONS = [
  `CREATE TABLE IF NOT EXISTS concord_txn (
     txid uuid PRIMARY KEY,
     state text NOT NULL CHECK (state IN ('committed', 'aborted')),
     at timestamptz NOT NULL DEFAULT now()
   )`,
];

export function createPool(url: string, max: number, logger: Logger): pg.Pool {
  const pool = new pg.Pool({ connectionString: url, max, connectionTimeoutMillis: 5000, idleTimeoutMillis: 30_000 });
  // An idle connection dies when PostgreSQL restarts; the pool replaces it. Without this
  // listener the error would crash the process.
  pool.on("error", (err) => logger.warn({ err: err.message }, "idle PostgreSQL connection lost"));
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

/** Runs the migrations once, even when several participants start against one database. */
export async function migrate(pool: pg.Pool, statements: readonly string[]): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query("BEGIN");
    await client.query("SELECT pg_advisory_xact_lock(4207001)");
    for (const sql of statements) await client.query(sql);
    await client.query("COMMIT");
  } catch (err) {
    await client.query("ROLLBACK").catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}
