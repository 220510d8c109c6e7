/**
 * The archive: finished transactions moved out of Redis into the coordinator's PostgreSQL
 * (coordinator/archiver.ts writes, coordinator/history.ts reads). A record keeps the hash Redis
 * held (`fields`), so it reads back exactly as it read from Redis, plus columns to filter on;
 * its events keep their stream order and times.
 */
import pg from "pg";
import type { ArchiveLookup, LogEvent, RawTransaction, TxRecord } from "../shared/durable-log.js";
import { parseRecord, safeJson } from "../shared/durable-log.js";
import type { Logger } from "../shared/logger.js";
import { migrateArchive } from "./archive-schema.js";
import type { HistoryFilter, Position } from "./history-query.js";

/** What the archiver copies: the stored form, and the record parsed from it. */
export interface ArchiveItem {
  raw: RawTransaction;
  record: TxRecord;
}

const INSERT_RECORDS = `
  INSERT INTO archived_transactions (txid, created_at_ms, state, decision, reason, decided_by,
    client, participants, votes, acks, series, attempt, previous_txid, next_txid, idempotency_key,
    decided_at_ms, ended_at_ms, fields)
  SELECT * FROM jsonb_to_recordset($1::jsonb) AS r(txid text, created_at_ms bigint, state text,
    decision text, reason text, decided_by text, client text, participants jsonb, votes jsonb,
    acks jsonb, series text, attempt integer, previous_txid text, next_txid text,
    idempotency_key text, decided_at_ms bigint, ended_at_ms bigint, fields jsonb)
  ON CONFLICT (txid) DO UPDATE
    SET next_txid = COALESCE(archived_transactions.next_txid, EXCLUDED.next_txid)`;

const INSERT_EVENTS = `
  INSERT INTO archived_events (txid, seq, stream_id, type, at_ms, data)
  SELECT * FROM jsonb_to_recordset($1::jsonb) AS r(txid text, seq integer, stream_id text,
    type text, at_ms bigint, data text)
  ON CONFLICT DO NOTHING`;

export class ArchiveStore implements ArchiveLookup {
  private ready = false;

  constructor(readonly pool: pg.Pool) {}

  static open(url: string, logger: Logger): ArchiveStore {
    const pool = new pg.Pool({
      connectionString: url,
      max: 4,
      connectionTimeoutMillis: 5000,
      idleTimeoutMillis: 30_000,
      // A query against a hung server fails instead of holding a listing forever.
      query_timeout: 30_000,
    });
    // A lost connection (PostgreSQL restarting) must not crash the coordinator: the pool
    // replaces it, and the archiver retries.
    pool.on("error", (err) => {
      logger.warn({ err: err.message }, "archive: idle PostgreSQL connection lost");
    });
    pool.on("connect", (client) => {
      client.on("error", (err) => {
        logger.warn({ err: err.message }, "archive: PostgreSQL connection lost");
      });
    });
    return new ArchiveStore(pool);
  }

  /** Creates or upgrades the tables once per process (again after a failure). */
  async ensureSchema(): Promise<void> {
    if (this.ready) return;
    await migrateArchive(this.pool);
    this.ready = true;
  }

  /** Copies records and their events in one PostgreSQL transaction; a copy already there stays. */
  async insert(items: ArchiveItem[]): Promise<void> {
    if (items.length === 0) return;
    await this.ensureSchema();
    const rows = items.map(({ raw, record: r }) => ({
      txid: r.txid,
      created_at_ms: r.createdAtMs ?? r.endedAtMs ?? 0,
      state: r.state,
      decision: r.decision ?? null,
      reason: r.reason ?? null,
      decided_by: r.decidedBy ?? null,
      client: r.client ?? null,
      participants: r.participants,
      votes: r.votes,
      acks: r.acks,
      series: r.series ?? null,
      attempt: r.attempt,
      previous_txid: r.previous ?? null,
      next_txid: r.next ?? null,
      idempotency_key: r.idempotencyKey ?? null,
      decided_at_ms: r.decidedAtMs ?? null,
      ended_at_ms: r.endedAtMs ?? null,
      fields: withoutToken(raw.fields),
    }));
    const events = items.flatMap(({ raw }) =>
      raw.events.map((e, seq) => ({
        txid: raw.txid,
        seq,
        stream_id: e.id,
        type: e.type,
        at_ms: e.atMs,
        data: e.data ?? null,
      })),
    );
    const client = await this.pool.connect();
    try {
      await client.query("BEGIN");
      await client.query(INSERT_RECORDS, [JSON.stringify(rows)]);
      if (events.length > 0) await client.query(INSERT_EVENTS, [JSON.stringify(events)]);
      await client.query("COMMIT");
    } catch (err) {
      await client.query("ROLLBACK").catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
  }

  async get(txid: string): Promise<TxRecord | undefined> {
    await this.ensureSchema();
    const { rows } = await this.pool.query<RecordRow>(
      "SELECT txid, fields, next_txid FROM archived_transactions WHERE txid = $1",
      [txid],
    );
    return rows[0] ? recordOf(rows[0]) : undefined;
  }

  async events(txid: string): Promise<LogEvent[]> {
    const { rows } = await this.pool.query<{
      stream_id: string;
      type: string;
      at_ms: string;
      data: string | null;
    }>("SELECT stream_id, type, at_ms, data FROM archived_events WHERE txid = $1 ORDER BY seq", [
      txid,
    ]);
    return rows.map((e) => ({
      id: e.stream_id,
      type: e.type,
      atMs: Number(e.at_ms),
      data: e.data === null ? undefined : safeJson(e.data),
    }));
  }

  /** Points an archived attempt at the one that follows it (it began after the archiving). */
  async linkNext(previous: string, next: string): Promise<void> {
    await this.ensureSchema();
    await this.pool.query(
      "UPDATE archived_transactions SET next_txid = $2 WHERE txid = $1 AND next_txid IS NULL",
      [previous, next],
    );
  }

  /** Archived transactions matching `filter` below `before`, newest first, at most `limit`. */
  async list(filter: HistoryFilter, before: Position | undefined, limit: number) {
    await this.ensureSchema();
    const where: string[] = [];
    const params: unknown[] = [];
    const param = (value: unknown) => {
      params.push(value);
      return `$${params.length}`;
    };
    if (before)
      where.push(`(created_at_ms, txid) < (${param(before.atMs)}, ${param(before.txid)})`);
    if (filter.client !== undefined) where.push(`client = ${param(filter.client)}`);
    if (filter.state === "committed" || filter.state === "aborted")
      where.push(`state = ${param(filter.state)}`);
    if (filter.participant !== undefined)
      where.push(`participants @> ${param(JSON.stringify([filter.participant]))}::jsonb`);
    if (filter.reason !== undefined)
      where.push(`strpos(lower(reason), ${param(filter.reason.toLowerCase())}) > 0`);
    if (filter.sinceMs !== undefined) where.push(`created_at_ms >= ${param(filter.sinceMs)}`);
    if (filter.untilMs !== undefined) where.push(`created_at_ms < ${param(filter.untilMs)}`);
    const sql = `SELECT txid, fields, next_txid FROM archived_transactions
      ${where.length > 0 ? `WHERE ${where.join(" AND ")}` : ""}
      ORDER BY created_at_ms DESC, txid DESC LIMIT ${param(limit)}`;
    const { rows } = await this.pool.query<RecordRow>(sql, params);
    return rows.map(recordOf);
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}

interface RecordRow {
  txid: string;
  fields: Record<string, string>;
  next_txid: string | null;
}

function recordOf(row: RecordRow): TxRecord {
  const record = parseRecord(row.txid, row.fields);
  return row.next_txid === null ? record : { ...record, next: row.next_txid };
}

/** The begin token only recognises a resent begin: it means nothing once the record is archived. */
function withoutToken(fields: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(fields).filter(([field]) => field !== "beginToken"));
}
