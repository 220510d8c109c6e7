/** The inventory's own endpoints: create items and read them (its operators only). */
import type { Express } from "express";
import type { Pool } from "pg";
import { z } from "zod";
import type { Authenticator } from "../../shared/auth.js";
import { ItemExistsError, NotFoundError } from "../../shared/errors.js";
import { parseWith } from "../../shared/http-server.js";
import type { Logger } from "../../shared/logger.js";
import { queryInt } from "../../shared/messages.js";
import { wireErrorSchema } from "../../shared/wire-errors.js";
import { mountRoute, type RouteSpec } from "../../shared/routes.js";
import { PG, pgCode } from "../framework/pg-errors.js";
import { createItemSchema, itemIdSchema } from "./inventory-operations.js";

const listQuerySchema = z.object({ limit: queryInt(1, 10_000, 1000) }).strict();

const itemAnswerSchema = z.object({
  id: itemIdSchema,
  stock: z.number().int(),
  sold: z.number().int(),
  version: z.number().int(),
});
const itemsAnswerSchema = z.object({
  items: z.array(itemAnswerSchema),
  totals: z.object({ stock: z.number().int(), sold: z.number().int() }),
  count: z.number().int(),
});

/** Creating an item puts stock in from outside any transaction: every route is for operators. */
export const INVENTORY_ROUTES = {
  listItems: {
    method: "GET",
    path: "/v1/items",
    callers: ["admin"],
    summary: "all items, with the inventory's totals",
    query: listQuerySchema,
    responses: { 200: { description: "the items, by id", schema: itemsAnswerSchema } },
  },
  getItem: {
    method: "GET",
    path: "/v1/items/:id",
    callers: ["admin"],
    summary: "one item's stock, sold and version",
    params: { id: itemIdSchema },
    responses: {
      200: { description: "the item", schema: itemAnswerSchema },
      404: { description: "no such item", schema: wireErrorSchema },
    },
  },
  createItem: {
    method: "POST",
    path: "/v1/items",
    callers: ["admin"],
    summary: "creates an item with its stock: how stock enters",
    body: createItemSchema,
    responses: {
      201: { description: "created", schema: itemAnswerSchema },
      409: { description: "item-exists: the id is taken", schema: wireErrorSchema },
    },
  },
} as const satisfies Record<string, RouteSpec>;

interface ItemRow {
  id: string;
  stock: string;
  sold: string;
  version: string;
}

const toItem = (r: ItemRow) => ({
  id: r.id,
  stock: Number(r.stock),
  sold: Number(r.sold),
  version: Number(r.version),
});

export function mountInventoryRoutes(
  app: Express,
  ctx: { pool: Pool; logger: Logger; auth: Authenticator },
): void {
  const { pool, auth } = ctx;

  mountRoute(app, auth, INVENTORY_ROUTES.listItems, async (req, res) => {
    const q = parseWith(INVENTORY_ROUTES.listItems.query, req.query, "query");
    const { rows } = await pool.query<ItemRow>(
      "SELECT id, stock::text AS stock, sold::text AS sold, version::text AS version FROM items ORDER BY id LIMIT $1",
      [q.limit],
    );
    const totals = await pool.query<{ stock: string; sold: string; count: string }>(
      "SELECT COALESCE(sum(stock), 0)::text AS stock, COALESCE(sum(sold), 0)::text AS sold, count(*)::text AS count FROM items",
    );
    const t = totals.rows[0];
    res.json({
      items: rows.map(toItem),
      totals: { stock: Number(t?.stock ?? 0), sold: Number(t?.sold ?? 0) },
      count: Number(t?.count ?? 0),
    });
  });

  mountRoute(app, auth, INVENTORY_ROUTES.getItem, async (req, res) => {
    const id = parseWith(INVENTORY_ROUTES.getItem.params.id, req.params.id, "params.id");
    const { rows } = await pool.query<ItemRow>(
      "SELECT id, stock::text AS stock, sold::text AS sold, version::text AS version FROM items WHERE id = $1",
      [id],
    );
    const row = rows[0];
    if (!row) throw new NotFoundError(`item ${id} does not exist`);
    res.json(toItem(row));
  });

  mountRoute(app, auth, INVENTORY_ROUTES.createItem, async (req, res) => {
    const body = parseWith(INVENTORY_ROUTES.createItem.body, req.body, "body");
    await insertStockedItem(pool, body.id, body.stock);
    ctx.logger.info({ item: body.id, stock: body.stock }, "item created");
    res.status(201).json({ id: body.id, stock: body.stock, sold: 0, version: 0 });
  });
}

/**
 * The item and its `item_stocked` row in one PostgreSQL transaction, so that stock never exists
 * without the row that explains it. An id already taken is ItemExistsError.
 */
async function insertStockedItem(pool: Pool, id: string, stock: number): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query("BEGIN");
    await client.query("INSERT INTO items (id, stock, sold) VALUES ($1, $2, 0)", [id, stock]);
    await client.query("INSERT INTO item_stocked (item, amount) VALUES ($1, $2)", [id, stock]);
    await client.query("COMMIT");
  } catch (err) {
    await client.query("ROLLBACK").catch(() => undefined);
    if (pgCode(err) === PG.uniqueViolation) throw new ItemExistsError(id);
    throw err;
  } finally {
    client.release();
  }
}
