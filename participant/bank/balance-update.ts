/**
 * The bank's balance update, written once: move an account's balance by a signed delta (only at
 * the expected version, when one is given), bump the version and write the ledger entry from the
 * updated row, in one statement. The bank runs it with bind parameters on its execute path and
 * as literal text on its one-round-trip prepare; the benchmark's ceiling and floor rows run the
 * bound form, so that they measure plain PostgreSQL doing exactly the bank's work.
 */
import type { BankOperation } from "./bank-operations.js";

export type MoneyOperation = Extract<BankOperation, { op: "debit" | "credit" }>;

/** The updated row, or none when the account is missing or not at the expected version. */
export interface BalanceRow {
  balance: string;
  version: string;
}

/** SQL expressions for the statement's values: bind parameters, or escaped literals. */
interface Operands {
  account: string;
  /** A bigint expression. */
  delta: string;
  /** A bigint expression, NULL for "any version". */
  expectedVersion: string;
  /** A uuid expression. */
  txid: string;
}

function balanceUpdate({ account, delta, expectedVersion, txid }: Operands): string {
  return `WITH updated AS (
      UPDATE accounts SET balance = balance + ${delta}, version = version + 1
       WHERE id = ${account} AND (${expectedVersion} IS NULL OR version = ${expectedVersion})
      RETURNING id, balance, version),
    entry AS (INSERT INTO ledger (txid, account, delta) SELECT ${txid}, id, ${delta} FROM updated)
    SELECT balance::text AS balance, version::text AS version FROM updated`;
}

/** The delta a debit or credit applies, as a decimal string: the amount, negated for a debit. */
export function signedDelta(op: MoneyOperation): string {
  return op.op === "debit" ? `-${op.amount}` : op.amount;
}

/** The statement with bind parameters: $1 account, $2 delta, $3 expected version, $4 txid. */
export const BALANCE_UPDATE_SQL = balanceUpdate({
  account: "$1",
  delta: "$2::bigint",
  expectedVersion: "$3::bigint",
  txid: "$4::uuid",
});

/** BALANCE_UPDATE_SQL's values for one operation of transaction `txid`. */
export function balanceUpdateValues(
  txid: string,
  op: MoneyOperation,
): [string, string, number | null, string] {
  return [op.account, signedDelta(op), op.expectedVersion ?? null, txid];
}

/**
 * The statement as text, for the one-round-trip prepare: every value is a validated literal
 * (account id by its pattern, amount and version as integers, txid as a UUID) and is escaped all
 * the same. When no row is updated it refuses through concord_refuse with the reason the bound
 * form's caller gives (unknown-account or version-conflict), so PostgreSQL stops before PREPARE
 * TRANSACTION.
 */
export function balanceUpdateStatement(
  txid: string,
  op: MoneyOperation,
  literal: (v: string) => string,
): string {
  const account = literal(op.account);
  const expected =
    op.expectedVersion === undefined
      ? "NULL::bigint"
      : `${literal(String(op.expectedVersion))}::bigint`;
  const update = balanceUpdate({
    account,
    delta: `${literal(signedDelta(op))}::bigint`,
    expectedVersion: expected,
    txid: `${literal(txid)}::uuid`,
  });
  return `${update}
    UNION ALL
    SELECT NULL, concord_refuse(CASE WHEN EXISTS (SELECT 1 FROM accounts WHERE id = ${account})
        THEN json_build_object('reason', 'version-conflict', 'account', ${account}, 'expectedVersion', ${expected}, 'currentVersion', (SELECT version FROM accounts WHERE id = ${account}))
        ELSE json_build_object('reason', 'unknown-account', 'account', ${account}, 'message', 'account ' || ${account} || ' does not exist') END::text)
    WHERE NOT EXISTS (SELECT 1 FROM updated)`;
}
