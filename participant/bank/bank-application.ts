/** The bank: debit, credit and read on accounts, plugged into the participant framework. */
import type { PoolClient } from "pg";
import { VoteNoError, type Application } from "../framework/application.js";
import { PG, pgCode } from "../framework/pg-errors.js";
import { bankInvariants } from "./bank-invariants.js";
import { mountBankRoutes } from "./bank-routes.js";
import { BANK_RULES, bankOperationsSchema, type BankOperation } from "./bank-operations.js";
import { BANK_MIGRATIONS } from "./schema.js";
import {
  BALANCE_UPDATE_SQL,
  balanceUpdateStatement,
  balanceUpdateValues,
  type BalanceRow,
  type MoneyOperation,
} from "./balance-update.js";

type AccountResult = { account: string; balance: string; version: number };

export const bankApplication: Application<BankOperation[]> = {
  name: "bank",
  migrations: BANK_MIGRATIONS,

  operations: bankOperationsSchema,
  rules: BANK_RULES,

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
    const ordered = sortedByAccount(ops as MoneyOperation[]);
    return {
      sql: ordered.map((op) => balanceUpdateStatement(txid, op, literal)),
      interpret: (results) =>
        results.map((r, i) => {
          const row = r.rows[0] as BalanceRow | undefined;
          const op = ordered[i];
          if (!row || !op) throw new Error(`no result for operation ${i} of ${txid}`);
          return { account: op.account, balance: row.balance, version: Number(row.version) };
        }),
    };
  },

  // A linked account's customer going below zero is refused inside PostgreSQL, through
  // concord_refuse at the end of the transaction (customer-total.ts): the framework reads that
  // refusal itself, on both paths, before asking here. Here: the CHECK of an unlinked account.
  refusalFor(err, ops) {
    if (pgCode(err) === PG.numericValueOutOfRange) return balanceOutOfRange();
    if (pgCode(err) !== PG.checkViolation) return undefined;
    // "Failing row contains (<id>, <balance>, ...)": the account whose balance would go negative.
    const detail = (err as { detail?: unknown }).detail;
    const account = /Failing row contains \(([^,]+),/.exec(
      typeof detail === "string" ? detail : "",
    )?.[1];
    const op = ops.find((o) => o.account === account && o.op === "debit");
    return new VoteNoError("insufficient-funds", {
      account,
      ...(op && op.op === "debit" ? { amount: op.amount } : {}),
    });
  },

  invariants: bankInvariants,
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

function unknownAccount(account: string): VoteNoError {
  return new VoteNoError("unknown-account", {
    account,
    message: `account ${account} does not exist`,
  });
}

function sortedByAccount<T extends { account: string }>(ops: readonly T[]): T[] {
  return [...ops].sort((a, b) => (a.account < b.account ? -1 : a.account > b.account ? 1 : 0));
}

async function applyDelta(
  client: PoolClient,
  txid: string,
  op: MoneyOperation,
): Promise<AccountResult> {
  let rows: BalanceRow[];
  try {
    // Named, so each connection parses and plans it once.
    ({ rows } = await client.query<BalanceRow>({
      name: "concord-bank-apply-delta",
      text: BALANCE_UPDATE_SQL,
      values: balanceUpdateValues(txid, op),
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
  if (!found) throw unknownAccount(op.account);
  throw new VoteNoError("version-conflict", {
    account: op.account,
    expectedVersion: op.expectedVersion,
    currentVersion: Number(found.version),
  });
}

async function readLocked(client: PoolClient, account: string): Promise<AccountResult> {
  const { rows } = await client.query<BalanceRow>(
    "SELECT balance::text AS balance, version::text AS version FROM accounts WHERE id = $1 FOR SHARE",
    [account],
  );
  const row = rows[0];
  if (!row) throw unknownAccount(account);
  return { account, balance: row.balance, version: Number(row.version) };
}
