import type { Migration } from "../framework/pg-store.js";

/**
 * The inventory's tables. An item's stock can never go negative (the CHECK is what refuses an
 * order that asks for more than there is), and every change leaves a trace: `item_stocked` for
 * the stock an operator put in, `item_movements` for what each transaction did, by txid. So
 * stock + sold always equals what was stocked, and each movement names its transaction.
 */
export const INVENTORY_MIGRATIONS: Migration[] = [
  {
    relation: "items",
    sql: `CREATE TABLE IF NOT EXISTS items (
            id text PRIMARY KEY,
            stock bigint NOT NULL CONSTRAINT stock_not_negative CHECK (stock >= 0),
            sold bigint NOT NULL CONSTRAINT sold_not_negative CHECK (sold >= 0),
            version bigint NOT NULL DEFAULT 0,
            created_at timestamptz NOT NULL DEFAULT now()
          )`,
  },
  {
    relation: "item_stocked",
    sql: `CREATE TABLE IF NOT EXISTS item_stocked (
            id bigserial PRIMARY KEY,
            item text NOT NULL REFERENCES items (id),
            amount bigint NOT NULL CHECK (amount >= 0),
            at timestamptz NOT NULL DEFAULT now()
          )`,
  },
  {
    // One row per operation of a committed transaction: `delta` is the change to stock (a reserve
    // takes, a release gives back; sold moves the other way); a read leaves a 0 row (kept only when it
    // commits), so every transaction this inventory committed has at least one row.
    relation: "item_movements",
    sql: `CREATE TABLE IF NOT EXISTS item_movements (
            id bigserial PRIMARY KEY,
            txid uuid NOT NULL,
            item text NOT NULL REFERENCES items (id),
            kind text NOT NULL CHECK (kind IN ('reserve', 'release', 'read')),
            delta bigint NOT NULL,
            at timestamptz NOT NULL DEFAULT now()
          )`,
  },
  {
    relation: "item_movements_txid",
    sql: `CREATE INDEX IF NOT EXISTS item_movements_txid ON item_movements (txid)`,
  },
  {
    relation: "item_stocked_item",
    sql: `CREATE INDEX IF NOT EXISTS item_stocked_item ON item_stocked (item)`,
  },
];
