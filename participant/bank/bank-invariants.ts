/**
 * The bank's invariants over its database at rest (GET /v1/invariants, npm run verify): no
 * unlinked account is below zero, no customer's accounts total below zero (a linked account
 * alone may be: customer-total.ts), every balance is its opening plus its transfers, and the
 * bank's money totals, which summed over every bank must balance (money moves between banks,
 * never made).
 */
import type { PoolClient } from "pg";
import type { InvariantCheck } from "../framework/application.js";
import { verdict } from "../framework/invariant-checks.js";

/** In the framework's one read-only snapshot, so balances and the ledger agree (invariant-checks.ts). */
export async function bankInvariants(client: PoolClient): Promise<InvariantCheck[]> {
  return [
    await noUnlinkedAccountBelowZero(client),
    await noCustomerBelowZero(client),
    await ledgerExplainsBalances(client),
    await moneyTotals(client),
  ];
}

/** What the CHECK guards: an account that belongs to no customer is never below zero. */
async function noUnlinkedAccountBelowZero(client: PoolClient): Promise<InvariantCheck> {
  const { rows } = await client.query<{ id: string; balance: string }>(
    "SELECT id, balance::text AS balance FROM accounts WHERE balance < 0 AND customer IS NULL ORDER BY id",
  );
  const count = await client.query<{ n: string }>(
    "SELECT count(*)::text AS n FROM accounts WHERE customer IS NULL",
  );
  return verdict(
    "no unlinked account below zero",
    `${count.rows[0]?.n ?? "0"} accounts of no customer`,
    rows.map((r) => `account ${r.id}: balance ${r.balance}`),
  );
}

/**
 * What the customer-total trigger guards, and what write skew breaks at READ COMMITTED: two
 * debits of one customer's accounts that each saw the other's account before it changed.
 */
async function noCustomerBelowZero(client: PoolClient): Promise<InvariantCheck> {
  const { rows } = await client.query<{ customer: string; total: string; accounts: string }>(
    `SELECT customer, sum(balance)::text AS total, string_agg(id || ' ' || balance, ', ' ORDER BY id) AS accounts
       FROM accounts WHERE customer IS NOT NULL
      GROUP BY customer HAVING sum(balance) < 0 ORDER BY customer`,
  );
  const count = await client.query<{ n: string }>(
    "SELECT count(DISTINCT customer)::text AS n FROM accounts WHERE customer IS NOT NULL",
  );
  return verdict(
    "no customer below zero",
    `${count.rows[0]?.n ?? "0"} customers`,
    rows.map((r) => `customer ${r.customer}: total ${r.total} (${r.accounts})`),
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
