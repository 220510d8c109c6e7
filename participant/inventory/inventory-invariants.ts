/**
 * The inventory's invariants over its database at rest (GET /v1/invariants, npm run verify):
 * stock plus sold of every item equals what was stocked for it, and its movements explain the
 * split; no stock is negative; and the movements agree with the framework's outcome rows.
 */
import type { PoolClient } from "pg";
import type { InvariantCheck } from "../framework/application.js";
import { verdict } from "../framework/invariant-checks.js";

/** In the framework's one read-only snapshot, so items, movements and outcome rows agree. */
export async function inventoryInvariants(client: PoolClient): Promise<InvariantCheck[]> {
  return [
    await stockAccountedFor(client),
    await noNegativeStock(client),
    await movementsMatchOutcomes(client),
  ];
}

async function stockAccountedFor(client: PoolClient): Promise<InvariantCheck> {
  const { rows } = await client.query<{
    id: string;
    stock: string;
    sold: string;
    stocked: string;
    moved: string;
  }>(
    `SELECT i.id, i.stock::text AS stock, i.sold::text AS sold,
            COALESCE((SELECT sum(amount) FROM item_stocked s WHERE s.item = i.id), 0)::text AS stocked,
            COALESCE((SELECT sum(delta) FROM item_movements m WHERE m.item = i.id), 0)::text AS moved
       FROM items i ORDER BY i.id`,
  );
  const problems: string[] = [];
  for (const r of rows) {
    const [stock, sold, stocked, moved] = [r.stock, r.sold, r.stocked, r.moved].map(BigInt);
    if (stock === undefined || sold === undefined || stocked === undefined || moved === undefined)
      continue;
    if (stock + sold !== stocked)
      problems.push(
        `item ${r.id}: stock ${stock} + sold ${sold} = ${stock + sold}, but ${stocked} was stocked`,
      );
    else if (stock !== stocked + moved)
      problems.push(
        `item ${r.id}: stock ${stock}, but stocked ${stocked} and its movements (${moved}) give ${stocked + moved}`,
      );
  }
  return verdict(
    "stock accounted for",
    `${rows.length} items: stock + sold equals what was stocked, and the movements explain it`,
    problems,
  );
}

async function noNegativeStock(client: PoolClient): Promise<InvariantCheck> {
  const { rows } = await client.query<{ id: string; stock: string; sold: string }>(
    "SELECT id, stock::text AS stock, sold::text AS sold FROM items WHERE stock < 0 OR sold < 0 ORDER BY id",
  );
  const count = await client.query<{ n: string }>("SELECT count(*)::text AS n FROM items");
  return verdict(
    "no negative stock",
    `${count.rows[0]?.n ?? "0"} items`,
    rows.map((r) => `item ${r.id}: stock ${r.stock}, sold ${r.sold}`),
  );
}

/**
 * A movement is the data of a transaction: it comes with a committed outcome row, and a
 * transaction committed here (only a reserve, a release or a held read prepares) has movements.
 */
async function movementsMatchOutcomes(client: PoolClient): Promise<InvariantCheck> {
  const orphans = await client.query<{ txid: string; state: string | null }>(
    `SELECT DISTINCT m.txid::text AS txid, t.state FROM item_movements m
       LEFT JOIN concord_txn t ON t.txid = m.txid
      WHERE t.state IS DISTINCT FROM 'committed' ORDER BY 1`,
  );
  const empty = await client.query<{ txid: string }>(
    `SELECT t.txid::text AS txid FROM concord_txn t
      WHERE t.state = 'committed' AND NOT EXISTS (SELECT 1 FROM item_movements m WHERE m.txid = t.txid)
      ORDER BY 1`,
  );
  const count = await client.query<{ n: string }>("SELECT count(*)::text AS n FROM concord_txn");
  return verdict(
    "movements agree with outcomes",
    `${count.rows[0]?.n ?? "0"} outcome rows: committed ones have movements, others none`,
    [
      ...orphans.rows.map(
        (r) => `${r.txid}: has movements but its outcome row is ${r.state ?? "missing"}`,
      ),
      ...empty.rows.map((r) => `${r.txid}: committed here, but no movement records it`),
    ],
  );
}
