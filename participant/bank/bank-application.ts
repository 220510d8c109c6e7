/** The bank: debit, credit and read on accounts, plugged into the participant framework. */
import type { PoolClient } from "pg";
import { parseWith } from "../../shared/http-server.js";
import { VoteNoError, type Application } from "../framework/application.js";
import { PG, pgCode } from "../framework/pg-errors.js";
import { mountBankRoutes } from "./bank-routes.js";
import {
  bankLockKeys,
  bankOperationsSchema,
  type BankOperation,
} from "../../shared/bank-operations.js";
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
    const ordered = sortedByAccount(ops);
    for (const op of ordered) {
      results.push(
        op.op === "read"
          ? await readLocked(client, op.account)
          : await applyDelta(client, txid, op),
      );
    }
    return { readOnly: ops.every((op) => op.op === "read" && !op.hold), results };
  },

  // Transfers (debits and credits) go to PostgreSQL with BEGIN and PREPARE TRANSACTION in one
  // round trip; reads keep the execute path.
  statements(txid, ops, literal) {
    if (ops.some((op) => op.op === "read")) return undefined;
    const ordered = sortedByAccount(ops as Extract<BankOperation, { op: "debit" | "credit" }>[]);
    return {
      sql: ordered.map((op) => deltaStatement(txid, op, literal)),
      interpret: (results) =>
        results.map((r, i) => {
          const row = r.rows[0] as { balance: string; version: string } | undefined;
          const op = ordered[i];
          if (!row || !op) throw new Error(`no result for operation ${i} of ${txid}`);
          return { account: op.account, balance: row.balance, version: Number(row.version) };
        }),
    };
  },

  lockKeys: bankLockKeys,

  refusalFor(err, ops) {
    if (pgCode(err) === PG.numericValueOutOfRange) return balanceOutOfRange();
    if (pgCode(err) !== PG.checkViolation) return undefined;
    // "Failing row contains (<id>, <balance>, ...)": the account whose balance would go negative.
    const account = /Failing row contains \(([^,]+),/.exec(
      String((err as { detail?: unknown }).detail ?? ""),
    )?.[1];
    const op = ops.find((o) => o.account === account && o.op === "debit");
    return new VoteNoError("insufficient-funds", {
      account,
      ...(op && op.op === "debit" ? { amount: op.amount } : {}),
    });
  },

  mountRoutes(app, ctx) {
    mountBankRoutes(app, ctx);
  },
};

/** A credit that would take a balance past bigint: a NO vote that names the limit, not a 500. */
function balanceOutOfRange(account?: string): VoteNoError {
  return new VoteNoError("balance-out-of-range", {
    ...(account ? { account } : {}),
    message: "a balance would exceed 9223372036854775807 minor units, the largest the bank stores",
  });
}

function sortedByAccount<T extends { account: string }>(ops: readonly T[]): T[] {
  return [...ops].sort((a, b) => (a.account < b.account ? -1 : a.account > b.account ? 1 : 0));
}

/**
 * applyDelta's statement as text, for the one-round-trip prepare: every value is a validated
 * literal (account id by its pattern, amount and version as integers, txid as a UUID) and is
 * escaped all the same. When no row is updated it refuses through concord_refuse, naming the
 * cause, so PostgreSQL stops before PREPARE TRANSACTION.
 */
function deltaStatement(
  txid: string,
  op: Extract<BankOperation, { op: "debit" | "credit" }>,
  literal: (v: string) => string,
): string {
  const account = literal(op.account);
  const delta = `${literal(op.op === "debit" ? `-${op.amount}` : op.amount)}::bigint`;
  const expected =
    op.expectedVersion === undefined
      ? "NULL::bigint"
      : `${literal(String(op.expectedVersion))}::bigint`;
  const version = op.expectedVersion === undefined ? "" : ` AND version = ${expected}`;
  return `WITH updated AS (
      UPDATE accounts SET balance = balance + ${delta}, version = version + 1 WHERE id = ${account}${version}
      RETURNING id, balance, version),
    entry AS (INSERT INTO ledger (txid, account, delta) SELECT ${literal(txid)}::uuid, id, ${delta} FROM updated)
    SELECT balance::text AS balance, version::text AS version FROM updated
    UNION ALL
    SELECT NULL, concord_refuse(CASE WHEN EXISTS (SELECT 1 FROM accounts WHERE id = ${account})
        THEN json_build_object('reason', 'version-conflict', 'account', ${account}, 'expectedVersion', ${expected}, 'currentVersion', (SELECT version FROM accounts WHERE id = ${account}))
        ELSE json_build_object('reason', 'unknown-account', 'account', ${account}, 'message', 'account ' || ${account} || ' does not exist') END::text)
    WHERE NOT EXISTS (SELECT 1 FROM updated)`;
}

async function applyDelta(
  client: PoolClient,
  txid: string,
  op: Extract<BankOperation, { op: "debit" | "credit" }>,
): Promise<AccountResult> {
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
    if (pgCode(err) === PG.checkViolation)
      throw new VoteNoError("insufficient-funds", { account: op.account, amount: op.amount });
    if (pgCode(err) === PG.numericValueOutOfRange) throw balanceOutOfRange(op.account);
    throw err;
  }
  const row = rows[0];
  if (row) return { account: op.account, balance: row.balance, version: Number(row.version) };
  const current = await client.query<{ version: string }>(
    "SELECT version::text AS version FROM accounts WHERE id = $1",
    [op.account],
  );
  const found = current.rows[0];
  if (!found)
    throw new VoteNoError("unknown-account", {
      account: op.account,
      message: `account ${op.account} does not exist`,
    });
  throw new VoteNoError("version-conflict", {
    account: op.account,
    expectedVersion: op.expectedVersion,
    currentVersion: Number(found.version),
  });
}

async function readLocked(client: PoolClient, account: string): Promise<AccountResult> {
  const { rows } = await client.query<{ balance: string; version: string }>(
    "SELECT balance::text AS balance, version::text AS version FROM accounts WHERE id = $1 FOR SHARE",
    [account],
  );
  const row = rows[0];
  if (!row)
    throw new VoteNoError("unknown-account", {
      account,
      message: `account ${account} does not exist`,
    });
  return { account, balance: row.balance, version: Number(row.version) };
}
