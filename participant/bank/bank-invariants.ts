/**
 * The bank's invariants over its database at rest (GET /v1/invariants, npm run verify): no
 * balance is negative, every balance is its opening plus its transfers, and the bank's money
 * totals, which summed over every bank must balance (money moves between banks, never made).
 */
import type { PoolClient } from "pg";
import type { InvariantCheck } from "../framework/application.js";
import { verdict } from "../framework/invariant-checks.js";

/** In the framework's one read-only snapshot, so balances and the ledger agree (invariant-checks.ts). */
export async function bankInvariants(client: PoolClient): Promise<InvariantCheck[]> {
  return [
    await noNegativeBalance(client),
    await ledgerExplainsBalances(client),
    await moneyTotals(client),
  ];
}

async function noNegativeBalance(client: PoolClient): Promise<InvariantCheck> {
  const { rows } = await client.query<{ id: string; balance: string }>(
    "SELECT id, balance::text AS balance FROM accounts WHERE balance < 0 ORDER BY id",
  );
  const count = await client.query<{ n: string }>("SELECT count(*)::text AS n FROM accounts");
  return verdict(
    "no negative balance",
    `${count.rows[0]?.n ?? "0"} accounts`,
    rows.map((r) => `account ${r.id}: balance ${r.balance}`),
  );
}

/** Each balance is its opening plus its transfers: the ledger per account sums to the balance. */
async function ledgerExplainsBalances(client: PoolClient): Promise<InvariantCheck> {
  const { rows } = await client.query<{ id: string; balance: string; ledger: string }>(
    `SELECT a.id, a.balance::text AS balance, COALESCE(l.total, 0)::text AS ledger
       FROM accounts a
       LEFT JOIN (SELECT account, sum(delta) AS total FROM ledger GROUP BY account) l ON l.account = a.id
      WHERE a.balance IS DISTINCT FROM COALESCE(l.total, 0) ORDER BY a.id`,
  );
  const orphans = await client.query<{ account: string }>(
    "SELECT DISTINCT account FROM ledger l WHERE NOT EXISTS (SELECT 1 FROM accounts a WHERE a.id = l.account) ORDER BY 1",
  );
  const problems = [
    ...rows.map((r) => `account ${r.id}: balance ${r.balance}, but its ledger sums to ${r.ledger}`),
    ...orphans.rows.map((r) => `ledger entries name account ${r.account}, which does not exist`),
  ];
  return verdict(
    "ledger explains balances",
    "every balance equals its opening plus its transfers",
    problems,
  );
}

/** The bank's money: present (its balances) and entered (its openings), for the sum over banks. */
async function moneyTotals(client: PoolClient): Promise<InvariantCheck> {
  const { rows } = await client.query<{ present: string; entered: string }>(
    `SELECT (SELECT COALESCE(sum(balance), 0) FROM accounts)::text AS present,
            (SELECT COALESCE(sum(delta), 0) FROM ledger WHERE kind = 'open')::text AS entered`,
  );
  const present = rows[0]?.present ?? "0";
  const entered = rows[0]?.entered ?? "0";
  return {
    name: "money totals",
    // Across banks the sums must agree; here, only that they were read.
    holds: true,
    detail: `balances ${present}, opened with ${entered} (money moves between banks: compare the sums over every bank)`,
    totals: { money: { present, entered } },
  };
}
