import { z } from "zod";
import type { OperationRules } from "../../shared/operation-rules.js";

/**
 * The inventory's operations: reserve and release a quantity of an item, and read an item. The
 * inventory publishes their schema and rules (GET /v1/descriptor), so the coordinator refuses a
 * malformed request before it logs anything. A quantity is a JSON integer: it is small and
 * counted, never money.
 */
export const ITEM_ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
export const MAX_QUANTITY = 1_000_000;
/** The most an item can hold, so that no restock or release takes a count past bigint. */
export const MAX_STOCK = 1_000_000_000_000;

export const itemIdSchema = z
  .string()
  .regex(ITEM_ID_PATTERN, "must be 1-64 characters of A-Z a-z 0-9 _ -");
export const quantitySchema = z.number().int().min(1).max(MAX_QUANTITY);
const versionSchema = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

const stockOp = (op: "reserve" | "release") =>
  z
    .object({
      op: z.literal(op),
      item: itemIdSchema,
      quantity: quantitySchema,
      expectedVersion: versionSchema.optional(),
    })
    .strict();

export const inventoryOperationSchema = z.discriminatedUnion("op", [
  /** Takes `quantity` out of stock into sold. */
  stockOp("reserve"),
  /** Gives `quantity` back from sold to stock. */
  stockOp("release"),
  /**
   * Reads an item under a FOR SHARE lock. With `hold`, the participant prepares instead of
   * voting read-only, so the lock lasts until the decision.
   */
  z.object({ op: z.literal("read"), item: itemIdSchema, hold: z.boolean().optional() }).strict(),
]);
export type InventoryOperation = z.infer<typeof inventoryOperationSchema>;
export type StockOperation = Extract<InventoryOperation, { op: "reserve" | "release" }>;

export const inventoryOperationsSchema = z.array(inventoryOperationSchema).min(1).max(64);

export const createItemSchema = z
  .object({ id: itemIdSchema, stock: z.number().int().min(0).max(MAX_STOCK) })
  .strict();

/**
 * The rules of the inventory's operation kinds (shared/operation-rules.ts): each kind locks its
 * item (written by reserve and release, read by read). No quantity is conserved across
 * participants: stock enters through the inventory's own admin route, and a reserve moves it
 * from stock to sold within the item. An item that does not exist is the client's mistake (422).
 */
export const INVENTORY_RULES: OperationRules = {
  discriminator: "op",
  kinds: {
    reserve: { lockKey: "items:{item}", writes: true },
    release: { lockKey: "items:{item}", writes: true },
    read: { lockKey: "items:{item}", writes: false },
  },
  clientFaults: { "unknown-item": 422 },
};
