import type { Migration } from "../framework/pg-store.js";
import { CUSTOMER_TOTAL_MIGRATION } from "./customer-total.js";

/**
 * The bank's tables. An account that belongs to no customer never goes negative (the CHECK is
 * the last line of defence behind the application's own checks); one that belongs to a customer
 * may, as long as the customer's accounts here together stay at or above zero (customer-total.ts).
 * Every change leaves a ledger entry naming its txid, so each transfer can be traced at every
 * bank.
 *
 * The steps are the schema's history, applied in order, each once (migrate, pg-store.ts): the
 * first ones are the schema as first released, and later steps change it, so that a database
 * made by an earlier release reaches the same schema as a new one.
 */
export const BANK_MIGRATIONS: Migration[] = [
  {
    relation: "accounts",
    sql: `CREATE TABLE IF NOT EXISTS accounts (
            id text PRIMARY KEY,
            balance bigint NOT NULL CHECK (balance >= 0),
            version bigint NOT NULL DEFAULT 0,
            created_at timestamptz NOT NULL DEFAULT now()
          )`,
  },
  {
    relation: "ledger",
    sql: `CREATE TABLE IF NOT EXISTS ledger (
            id bigserial PRIMARY KEY,
            txid uuid,
            account text NOT NULL REFERENCES accounts (id),
            delta bigint NOT NULL,
            kind text NOT NULL DEFAULT 'transfer' CHECK (kind IN ('transfer', 'open')),
            at timestamptz NOT NULL DEFAULT now()
          )`,
  },
  { relation: "ledger_txid", sql: `CREATE INDEX IF NOT EXISTS ledger_txid ON ledger (txid)` },
  {
    relation: "ledger_account",
    sql: `CREATE INDEX IF NOT EXISTS ledger_account ON ledger (account)`,
  },
  {
    // The customer an account belongs to, if any. A step is known done by the presence of what
    // it names (`relation`), and a column is no relation: the index, made in the same step and
    // the same transaction, stands for both. Only linked accounts are indexed: the customer
    // total reads them, and unlinked ones (most) cost the index nothing.
    relation: "accounts_customer",
    sql: `ALTER TABLE accounts ADD COLUMN IF NOT EXISTS customer text;
          CREATE INDEX IF NOT EXISTS accounts_customer ON accounts (customer) WHERE customer IS NOT NULL`,
  },
  CUSTOMER_TOTAL_MIGRATION,
];
