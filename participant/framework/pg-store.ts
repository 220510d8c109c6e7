import pg from "pg";
import type { Logger } from "../../shared/logger.js";
import { UnsafeConfigurationError } from "../../shared/errors.js";

/**
 * The shared advisory lock every ordered transaction holds (see concord_lock_keys): its
 * int8 key, and the two halves pg_locks shows it by.
 */
const ORDERED_MARK = 4207002;
const ORDERED_MARK_CLASSID = 0;
const ORDERED_MARK_OBJID = ORDERED_MARK;

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
  {
    // Who holds the advisory lock of a key (see concord_lock_keys): each holder's txid, from its
    // session's application_name while it runs or from its gid once it is prepared, and whether
    // it takes its participants in order (it then also holds the shared "ordered" mark lock). A
    // prepared transaction's locks have no pid; its own transactionid lock, under the same
    // virtual transaction, gives its xid and so its gid. A holder that is not a Concord
    // transaction has a NULL txid.
    relation: "concord_lock_holders(bigint)",
    kind: "function",
    sql: `CREATE OR REPLACE FUNCTION concord_lock_holders(h bigint, OUT txid text, OUT ordered boolean) RETURNS SETOF record
          LANGUAGE sql VOLATILE AS $$
          SELECT coalesce(substring(a.application_name FROM '^concord:(.+)$'), substring(p.gid FROM '^concord:[^:]+:(.+)$')),
                 EXISTS (SELECT 1 FROM pg_locks m
                          WHERE m.locktype = 'advisory' AND m.granted AND m.objsubid = 1 AND m.virtualtransaction = l.virtualtransaction
                            AND m.classid = ${ORDERED_MARK_CLASSID}::oid AND m.objid = ${ORDERED_MARK_OBJID}::oid)
            FROM pg_locks l
            LEFT JOIN pg_stat_activity a ON l.pid IS NOT NULL AND a.pid = l.pid
            LEFT JOIN pg_locks x ON l.pid IS NULL AND x.pid IS NULL AND x.locktype = 'transactionid' AND x.granted
                                AND x.virtualtransaction = l.virtualtransaction
            LEFT JOIN pg_prepared_xacts p ON p.transaction = x.transactionid
           WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
             AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
             AND l.classid = ((h >> 32) & 4294967295)::oid AND l.objid = (h & 4294967295)::oid
             AND l.pid IS DISTINCT FROM pg_backend_pid()
          $$`,
  },
  {
    // Deadlock-free locking of keys across participants: one advisory lock per key, taken in the
    // order given (the caller sorts them), and a rule for who may wait for whom. Transactions
    // are parallel (PREPAREs sent to every participant at once) or ordered (sent one participant
    // after the other, in name order: a retry after a conflict); their age is their txid (UUID v7
    // txids sort by the time their request began, and a retry keeps it).
    //   - a parallel transaction waits only for younger parallel holders: it gives up at once
    //     (the refusal "conflict") on meeting an older or an ordered one (wait-die);
    //   - an ordered transaction waits for ordered holders of any age (they all take keys in one
    //     global order, participant then key, so they cannot wait in a circle) and for younger
    //     parallel ones, and gives up on an older parallel one.
    // Every wait then goes from older to younger parallel transactions, or among ordered ones,
    // or from an ordered to a younger parallel one; a parallel one never waits for an ordered
    // one. No cycle can be built from such waits, so a distributed deadlock is refused the
    // moment it would form, never broken by a timeout. The wait is taken 100 ms at a time, so
    // that a key taken over meanwhile is looked at again, and ends with lock_not_available
    // after wait_ms (the coordinator's deadline).
    //   A waiting PREPARE also holds one of the participant's pooled connections, and a PREPARE
    // that would give up must get a connection to find out: with every connection taken by
    // waiters, the lock holder's next step could wait for a connection behind them, a cycle
    // the lock manager cannot see. So at most max_waiters PREPAREs wait here at once (fewer
    // than the pool holds); one more gives up at once with the refusal "busy".
    //   `session`: the locks are the session's, not the transaction's. A REPEATABLE READ or
    // SERIALIZABLE transaction sees the rows as of its first query, so a wait for a key inside
    // it would end on rows changed since, and in a serialization failure (40001) each time a
    // hot row changes hands. Such a transaction waits for its keys before it begins, as the
    // session's, takes them again as the transaction's at once (a session never waits for
    // itself) and then lets the session's go: the keys are held without a gap, and the
    // snapshot is taken after the wait (participant.ts).
    relation: "concord_lock_keys(text[],boolean[],text,boolean,integer,integer,boolean)",
    kind: "function",
    sql: `CREATE OR REPLACE FUNCTION concord_lock_keys(keys text[], exclusive boolean[], me text, me_ordered boolean, wait_ms integer, max_waiters integer, session boolean)
          RETURNS void LANGUAGE plpgsql AS $$
          DECLARE
            i integer;
            h bigint;
            got boolean;
            blocker text;
            until timestamptz := clock_timestamp() + make_interval(secs => wait_ms / 1000.0);
            saved text := current_setting('lock_timeout');
          BEGIN
            IF me_ordered AND session THEN
              PERFORM pg_advisory_lock_shared(${ORDERED_MARK});
            ELSIF me_ordered THEN
              PERFORM pg_advisory_xact_lock_shared(${ORDERED_MARK});
            END IF;
            FOR i IN 1 .. coalesce(array_length(keys, 1), 0) LOOP
              h := hashtextextended(keys[i], 0);
              LOOP
                got := CASE WHEN session AND exclusive[i] THEN pg_try_advisory_lock(h)
                            WHEN session THEN pg_try_advisory_lock_shared(h)
                            WHEN exclusive[i] THEN pg_try_advisory_xact_lock(h)
                            ELSE pg_try_advisory_xact_lock_shared(h) END;
                EXIT WHEN got;
                -- pg_stat_activity is read once per transaction and then cached: without this, a
                -- holder that began after the first look has no application_name here.
                PERFORM pg_stat_clear_snapshot();
                SELECT min(t.txid) INTO blocker FROM concord_lock_holders(h) AS t
                 WHERE t.txid IS NOT NULL
                   AND CASE WHEN me_ordered THEN NOT t.ordered AND t.txid < me ELSE t.ordered OR t.txid < me END;
                IF blocker IS NOT NULL THEN
                  PERFORM concord_refuse(json_build_object('reason', 'conflict', 'key', keys[i], 'holder', blocker)::text);
                END IF;
                IF clock_timestamp() >= until THEN
                  RAISE EXCEPTION USING ERRCODE = 'lock_not_available', MESSAGE = format('concord: %s was still held after %s ms', keys[i], wait_ms);
                END IF;
                IF (SELECT count(*) FROM pg_locks w WHERE w.locktype = 'advisory' AND NOT w.granted
                      AND w.database = (SELECT oid FROM pg_database WHERE datname = current_database())) >= max_waiters THEN
                  PERFORM concord_refuse(json_build_object('reason', 'busy', 'key', keys[i], 'message', 'too many transactions wait here already')::text);
                END IF;
                BEGIN
                  PERFORM set_config('lock_timeout', greatest(1, least(100, ceil(extract(epoch FROM until - clock_timestamp()) * 1000)))::int || 'ms', true);
                  IF session AND exclusive[i] THEN PERFORM pg_advisory_lock(h);
                  ELSIF session THEN PERFORM pg_advisory_lock_shared(h);
                  ELSIF exclusive[i] THEN PERFORM pg_advisory_xact_lock(h);
                  ELSE PERFORM pg_advisory_xact_lock_shared(h); END IF;
                  got := true;
                EXCEPTION WHEN lock_not_available THEN
                  got := false;
                END;
                EXIT WHEN got;
              END LOOP;
            END LOOP;
            PERFORM set_config('lock_timeout', saved, true);
          END $$`,
  },
];

export function createPool(
  url: string,
  max: number,
  logger: Logger,
  session: { lockTimeoutMs?: number; indexScans?: boolean } = {},
): pg.Pool {
  const settings = [
    // A session-wide lock timeout, for pools whose statements must never wait without bound.
    ...(session.lockTimeoutMs !== undefined
      ? [`-c lock_timeout=${Math.floor(session.lockTimeoutMs)}`]
      : []),
    // Lookups by key use the key's index even on a table of a few pages, where the planner
    // would rather scan it all. Under SERIALIZABLE, a scan of the whole table is a lock on all
    // of it (SSI), which every concurrent writer of any row conflicts with. Set for the
    // session, not per transaction: a plan is cached with the settings of its first use (the
    // foreign-key checks' plans, say), and a connection serves transactions at every level.
    ...(session.indexScans ? ["-c enable_seqscan=off"] : []),
  ];
  const pool = new pg.Pool({
    connectionString: url,
    max,
    connectionTimeoutMillis: 5000,
    idleTimeoutMillis: 30_000,
    ...(settings.length > 0 ? { options: settings.join(" ") } : {}),
  });
  // A connection dies when PostgreSQL restarts; the pool replaces it. Without these listeners
  // the error event would crash the process: the pool's covers idle connections, and each
  // client's own covers the moments a checked-out connection is between two queries.
  pool.on("error", (err) => {
    logger.warn({ err: err.message }, "idle PostgreSQL connection lost");
  });
  pool.on("connect", (client) => {
    client.on("error", (err) => {
      logger.warn({ err: err.message }, "PostgreSQL connection lost");
    });
  });
  return pool;
}

/**
 * PREPARE TRANSACTION is disabled when max_prepared_transactions is 0 (PostgreSQL's default).
 * Finding out at the first transfer would turn every vote into NO; stop at start-up instead.
 */
export async function ensurePreparedTransactions(
  pool: pg.Pool,
  poolSize: number,
  logger: Logger,
): Promise<number> {
  const { rows } = await pool.query<{ max_prepared_transactions: string }>(
    "SHOW max_prepared_transactions",
  );
  const max = Number(rows[0]?.max_prepared_transactions ?? 0);
  if (max === 0) {
    throw new UnsafeConfigurationError(
      "PostgreSQL has max_prepared_transactions = 0, which disables PREPARE TRANSACTION. " +
        "Start the server with -c max_prepared_transactions=N (N at least the participant's pool size, CONCORD_PG_POOL_SIZE), or set it in postgresql.conf and restart.",
    );
  }
  if (max < poolSize)
    logger.warn(
      { max_prepared_transactions: max, poolSize },
      "max_prepared_transactions is below the pool size; prepares may fail under load",
    );
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
export function refusalFromSql(
  err: unknown,
): { reason: string; detail: Record<string, unknown> } | undefined {
  const e = err as { code?: unknown; message?: unknown } | undefined;
  if (e?.code !== "P0001" || typeof e.message !== "string" || !e.message.startsWith(REFUSAL_PREFIX))
    return undefined;
  try {
    const { reason, ...detail } = JSON.parse(e.message.slice(REFUSAL_PREFIX.length)) as Record<
      string,
      unknown
    >;
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
    throw await explainBlockedMigration(client, err);
  } finally {
    client.release();
  }
}

/**
 * A schema step that changes a table waits for every transaction holding a lock on it, and a
 * prepared transaction holds its locks until it is committed or rolled back, which this
 * participant's recovery does only once it runs. Said plainly, rather than as a lock timeout.
 */
async function explainBlockedMigration(client: pg.PoolClient, err: unknown): Promise<unknown> {
  if ((err as { code?: unknown }).code !== "55P03") return err;
  const { rows } = await client
    .query<{ n: string }>(
      "SELECT count(*)::text AS n FROM pg_prepared_xacts WHERE database = current_database()",
    )
    .catch(() => ({ rows: [] as { n: string }[] }));
  const prepared = Number(rows[0]?.n ?? 0);
  if (prepared === 0) return err;
  return new Error(
    `the schema change waits for ${prepared} prepared transaction(s) in this database, which hold locks on the tables it changes: start the previous release until its recovery has finished them (GET /v1/prepared lists none), then start this one (${(err as Error).message})`,
  );
}
