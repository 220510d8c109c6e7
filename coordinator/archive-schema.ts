/**
 * The archive's tables in the coordinator's PostgreSQL, created by the coordinator at start.
 * Each migration runs once, in order, recorded in a version table; several coordinators starting
 * together take an advisory lock so that only one applies them.
 */
import type pg from "pg";

const MIGRATIONS: { version: number; sql: string }[] = [
  {
    version: 1,
    sql: `
      CREATE TABLE archived_transactions (
        txid text PRIMARY KEY,
        created_at_ms bigint NOT NULL,
        state text NOT NULL,
        decision text,
        reason text,
        decided_by text,
        client text,
        participants jsonb NOT NULL,
        votes jsonb NOT NULL,
        acks jsonb NOT NULL,
        series text,
        attempt integer NOT NULL,
        previous_txid text,
        -- Written after the record was archived when the next attempt began later.
        next_txid text,
        idempotency_key text,
        decided_at_ms bigint,
        ended_at_ms bigint,
        -- The record exactly as Redis held it: GET rebuilds the same answer from it.
        fields jsonb NOT NULL,
        archived_at timestamptz NOT NULL DEFAULT now()
      );
      -- Listings page newest first by (creation time, txid), with or without a filter.
      CREATE INDEX archived_transactions_newest
        ON archived_transactions (created_at_ms DESC, txid DESC);
      CREATE INDEX archived_transactions_client
        ON archived_transactions (client, created_at_ms DESC, txid DESC) WHERE client IS NOT NULL;
      CREATE INDEX archived_transactions_state
        ON archived_transactions (state, created_at_ms DESC, txid DESC);
      CREATE INDEX archived_transactions_participants
        ON archived_transactions USING gin (participants jsonb_path_ops);
      CREATE INDEX archived_transactions_previous
        ON archived_transactions (previous_txid) WHERE previous_txid IS NOT NULL;
      -- The log as a journal: every event of every transaction, in its stream's order.
      CREATE TABLE archived_events (
        txid text NOT NULL,
        seq integer NOT NULL,
        stream_id text NOT NULL,
        type text NOT NULL,
        at_ms bigint NOT NULL,
        data text,
        PRIMARY KEY (txid, seq)
      );
    `,
  },
];

/** Applies the migrations not yet applied; returns the schema's version. */
export async function migrateArchive(pool: pg.Pool): Promise<number> {
  const client = await pool.connect();
  try {
    await client.query("BEGIN");
    await client.query("SELECT pg_advisory_xact_lock(hashtext('concord_archive_migrations'))");
    await client.query(
      `CREATE TABLE IF NOT EXISTS concord_archive_migrations (
         version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`,
    );
    const done = await client.query<{ version: number }>(
      "SELECT version FROM concord_archive_migrations",
    );
    const applied = new Set(done.rows.map((r) => r.version));
    for (const m of MIGRATIONS) {
      if (applied.has(m.version)) continue;
      await client.query(m.sql);
      await client.query("INSERT INTO concord_archive_migrations (version) VALUES ($1)", [
        m.version,
      ]);
    }
    await client.query("COMMIT");
    return Math.max(...MIGRATIONS.map((m) => m.version));
  } catch (err) {
    await client.query("ROLLBACK").catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}
