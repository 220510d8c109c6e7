/** The inventory: reserve, release and read items, plugged into the participant framework. */
import type { PoolClient } from "pg";
import { VoteNoError, type Application } from "../framework/application.js";
import { PG, pgCode } from "../framework/pg-errors.js";
import {
  INVENTORY_RULES,
  inventoryOperationsSchema,
  type InventoryOperation,
  type StockOperation,
} from "./inventory-operations.js";
import { inventoryInvariants } from "./inventory-invariants.js";
import { mountInventoryRoutes } from "./inventory-routes.js";
import { INVENTORY_MIGRATIONS } from "./schema.js";

export interface ItemResult {
  item: string;
  stock: number;
  sold: number;
  version: number;
}

interface ItemRow {
  stock: string;
  sold: string;
  version: string;
}

/**
 * One statement per reserve or release: move the quantity between stock and sold (only at the
 * expected version, when one is given), bump the version and write the movement from the updated
 * row. $1 item, $2 change to stock, $3 expected version or NULL, $4 txid, $5 kind.
 */
const STOCK_UPDATE_SQL = `WITH updated AS (
    UPDATE items SET stock = stock + $2::bigint, sold = sold - $2::bigint, version = version + 1
     WHERE id = $1 AND ($3::bigint IS NULL OR version = $3::bigint)
    RETURNING id, stock, sold, version),
  movement AS (INSERT INTO item_movements (txid, item, kind, delta)
               SELECT $4::uuid, id, $5, $2::bigint FROM updated)
  SELECT stock::text AS stock, sold::text AS sold, version::text AS version FROM updated`;

export const inventoryApplication: Application<InventoryOperation[]> = {
  name: "inventory",
  migrations: INVENTORY_MIGRATIONS,

  operations: inventoryOperationsSchema,
  rules: INVENTORY_RULES,

  async execute(client, txid, ops) {
    const results: ItemResult[] = [];
    // Rows are locked in item order, so two transactions over the same items cannot deadlock here.
    for (const op of sortedByItem(ops)) {
      results.push(
        op.op === "read"
          ? await readLocked(client, txid, op.item)
          : await moveStock(client, txid, op),
      );
    }
    return { readOnly: ops.every((op) => op.op === "read" && op.hold !== true), results };
  },

  refusalFor(err, ops) {
    if (pgCode(err) !== PG.checkViolation) return undefined;
    // "Failing row contains (<id>, <stock>, ...)": the item whose stock (or sold) would go negative.
    const detail = (err as { detail?: unknown }).detail;
    const item = /Failing row contains \(([^,]+),/.exec(
      typeof detail === "string" ? detail : "",
    )?.[1];
    const constraint = (err as { constraint?: unknown }).constraint;
    const kind = constraint === "sold_not_negative" ? "release" : "reserve";
    const quantity = ops
      .filter((o): o is StockOperation => o.op === kind && o.item === item)
      .reduce((sum, o) => sum + o.quantity, 0);
    return new VoteNoError(kind === "reserve" ? "out-of-stock" : "release-exceeds-sold", {
      item,
      quantity,
    });
  },

  invariants: inventoryInvariants,

  mountRoutes(app, ctx) {
    mountInventoryRoutes(app, ctx);
  },
};

function sortedByItem<T extends { item: string }>(ops: readonly T[]): T[] {
  return [...ops].sort((a, b) => (a.item < b.item ? -1 : a.item > b.item ? 1 : 0));
}

function toResult(item: string, row: ItemRow): ItemResult {
  return {
    item,
    stock: Number(row.stock),
    sold: Number(row.sold),
    version: Number(row.version),
  };
}

function unknownItem(item: string): VoteNoError {
  return new VoteNoError("unknown-item", { item, message: `item ${item} does not exist` });
}

/** A reserve or release; a CHECK violation (out of stock) goes up to refusalFor. */
async function moveStock(
  client: PoolClient,
  txid: string,
  op: StockOperation,
): Promise<ItemResult> {
  const delta = op.op === "reserve" ? -op.quantity : op.quantity;
  const { rows } = await client.query<ItemRow>({
    name: "concord-inventory-move-stock",
    text: STOCK_UPDATE_SQL,
    values: [op.item, delta, op.expectedVersion ?? null, txid, op.op],
  });
  const row = rows[0];
  if (row) return toResult(op.item, row);
  const current = await client.query<{ version: string }>(
    "SELECT version::text AS version FROM items WHERE id = $1",
    [op.item],
  );
  const found = current.rows[0];
  if (!found) throw unknownItem(op.item);
  throw new VoteNoError("version-conflict", {
    item: op.item,
    expectedVersion: op.expectedVersion,
    currentVersion: Number(found.version),
  });
}

/**
 * A read under FOR SHARE. It leaves a movement of 0, the trace of its commit: rolled back with
 * the rest when the vote is read-only, kept when the read is held (prepared) or committed in one
 * phase, so every transaction committed here has a movement.
 */
async function readLocked(client: PoolClient, txid: string, item: string): Promise<ItemResult> {
  const { rows } = await client.query<ItemRow>(
    "SELECT stock::text AS stock, sold::text AS sold, version::text AS version FROM items WHERE id = $1 FOR SHARE",
    [item],
  );
  const row = rows[0];
  if (!row) throw unknownItem(item);
  await client.query(
    "INSERT INTO item_movements (txid, item, kind, delta) VALUES ($1::uuid, $2, 'read', 0)",
    [txid, item],
  );
  return toResult(item, row);
}
