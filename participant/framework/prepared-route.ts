/**
 * `GET /v1/prepared`: what this participant holds prepared in PostgreSQL (only Concord's own
 * gids, `concord:<name>:<txid>`), oldest first, with its journal's vote and decision for each.
 * The coordinator's operator API gathers it from every participant to show what is in doubt.
 * Read-only: it never resolves anything (recovery and the operator actions do).
 */
import type { Express } from "express";
import type pg from "pg";
import type { Authenticator } from "../../shared/auth.js";
import type { DurableLog } from "../../shared/durable-log.js";
import { isTxid } from "../../shared/ids.js";
import {
  PREPARED_LIST_LIMIT,
  type PreparedAnswer,
  type PreparedEntry,
} from "../../shared/prepared-messages.js";
import { mountRoute } from "../../shared/routes.js";
import { PARTICIPANT_ROUTES as R } from "./routes.js";

interface PreparedRow {
  gid: string;
  prepared: Date;
  age_ms: string;
}

/** This participant's prepared transactions, and whether there were more than the limit. */
export async function listPrepared(
  name: string,
  deps: { pool: pg.Pool; journal: DurableLog },
): Promise<PreparedAnswer> {
  const prefix = `concord:${name}:`;
  // One row more than the limit says whether the list is cut short. The age is taken on
  // PostgreSQL's clock, the one `prepared` was written with.
  const { rows } = await deps.pool.query<PreparedRow>(
    `SELECT gid, prepared,
            greatest(0, floor(extract(epoch FROM clock_timestamp() - prepared) * 1000))::bigint::text AS age_ms
       FROM pg_prepared_xacts
      WHERE database = current_database() AND starts_with(gid, $1)
      ORDER BY prepared, gid LIMIT $2`,
    [prefix, PREPARED_LIST_LIMIT + 1],
  );
  const ours = rows.slice(0, PREPARED_LIST_LIMIT).filter((r) => isTxid(r.gid.slice(prefix.length)));
  const records = await deps.journal.getMany(ours.map((r) => r.gid.slice(prefix.length)));
  const byTxid = new Map(records.map((r) => [r.txid, r]));
  const prepared = ours.map((r): PreparedEntry => {
    const txid = r.gid.slice(prefix.length);
    const record = byTxid.get(txid);
    const vote = record?.votes[name];
    return {
      txid,
      gid: r.gid,
      preparedAt: r.prepared.toISOString(),
      ageMs: Number(r.age_ms),
      journal: {
        ...(vote ? { vote } : {}),
        ...(record?.decision ? { decision: record.decision } : {}),
      },
    };
  });
  return { participant: name, prepared, truncated: rows.length > PREPARED_LIST_LIMIT };
}

export function mountPreparedRoute(
  app: Express,
  auth: Authenticator,
  name: string,
  deps: { pool: pg.Pool; journal: DurableLog },
): void {
  mountRoute(app, auth, R.prepared, async (_req, res) => {
    res.json(await listPrepared(name, deps));
  });
}
