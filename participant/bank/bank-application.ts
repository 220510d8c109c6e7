/** The bank: debit, credit and read on accounts, plugged into the participant framework. */
import type { PoolClient } from "pg";
import { parseWith } from "../../shared/http-server.js";
import { VoteNoError, type Application } from "../framework/application.js";
import { PG, pgCode } from "../framework/pg-errors.js";
import { mountBankRoutes } from "./bank-routes.js";
import { bankOperationsSchema, type BankOperation } from "./operations.js";
import { BANK_MIGRATIONS } from "./schema.js";

type AccountResult = { account: string; balance: string; version: number };

export const bankApplication: Application<BankOperation[]> = {
  name: "bank",
  migrations: BANK_MIGRATIONS,

  parseOperations(raw) {
    return parseWith(bankOperationsSchema, raw, "body.operations");
  },

  async execute(client, txid, ops) {
    const results: AccountResult[] = [];
    // Rows are locked in account order, so two transactions touching the same accounts here
    // cannot deadlock each other.
    const ordered = [...ops].sort((a, b) => (a.account < b.account ? -1 : a.account > b.account ? 1 : 0));
    for (const op of ordered) {
      results.push(op.op === "read" ? await readLocked(client, op.account) : await applyDelta(client, txid, op));
    }
    return { readOnly: ops.every((op) => op.op === "read" && !op.hold), results };
  },

  mountRoutes(app, ctx) {
    mountBankRoutes(app, ctx);
  },
};

async function applyDelta(client: PoolClient, txid: string, op: Extract<BankOperation, { op: "debit" | "credit" }>): Promise<AccountResult> {
  const delta = op.op === "debit" ? `-${op.amount}` : op.amount;
  let rows: { balance: string; version: string }[];
  try {
    // One round trip: update the balance (guarded by the optional expected version) and write
    // the ledger entry from the updated row.
    // Named, so each connection parses and plans it once.
    ({ rows } = await client.query<{ balance: string; version: string }>({
      name: "concord-bank-apply-delta",
      text: `WITH updated AS (
         UPDATE accounts SET balance = balance + $2::bigint, version = version + 1
          WHERE id = $1 AND ($3::bigint IS NULL OR version = $3::bigint)
         RETURNING id, balance, version),
       entry AS (INSERT INTO ledger (txid, account, delta) SELECT $4::uuid, id, $2::bigint FROM updated)
       SELECT balance::text AS balance, version::text AS version FROM updated`,
      values: [op.account, delta, op.expectedVersion ?? null, txid],
    }));
  } catch (err) {
    if (pgCode(err) === PG.checkViolation) throw new VoteNoError("insufficient-funds", { account: op.account, amount: op.amount });
    throw err;
  }
  const row = rows[0];
  if (row) return { account: op.account, balance: row.balance, version: Number(row.version) };
  const current = await client.query<{ version: string }>("SELECT version::text AS version FROM accounts WHERE id = $1", [op.account]);
  const found = current.rows[0];
  if (!found) throw new VoteNoError("unknown-account", { account: op.account, message: `account ${op.account} does not exist` });
  throw new VoteNoError("version-conflict", { account: op.account, expectedVersion: op.expectedVersion, currentVersion: Number(found.version) });
}

async function readLocked(client: PoolClient, account: string): Promise<AccountResult> {
  const { rows } = await client.query<{ balance: string; version: string }>("SELECT balance::text AS balance, version::text AS version FROM accounts WHERE id = $1 FOR SHARE", [account]);
  const row = rows[0];
  if (!row) throw new VoteNoError("unknown-account", { account, message: `account ${account} does not exist` });
  return { account, balance: row.balance, version: Number(row.version) };
}
