import type { Migration } from "../framework/pg-store.js";

/**
 * The bank's tables. Balances can never go negative (the CHECK is the last line of defence
 * behind the application's own checks), and every change leaves a ledger entry naming its txid,
 * so each transfer can be traced at every bank.
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
];
