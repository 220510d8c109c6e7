/**
 * The accounts of one isolation workload run, opened fresh under a prefix of their own:
 * - plain accounts at two banks, between which transfers move money (a conserved set: any
 *   consistent read of all of them sums to the total they were opened with);
 * - customers at the first bank, each with two linked accounts (checking and savings) whose sum
 *   must stay >= 0: the rule write skew breaks;
 * - merchants at the second bank, two per worker, paid by the customers' debits (their own
 *   accounts, so that two concurrent debits of one customer do not meet on the merchant's row).
 */
import type { ClusterFile } from "../cluster/cluster-file.js";
import { adminSecretOf, participantOf } from "../cluster/cluster-file.js";
import type { AccountRef, AccountState } from "./history.js";

export interface WorkloadAccounts {
  banks: [string, string];
  plain: AccountRef[];
  plainBalance: bigint;
  customers: { customer: string; checking: AccountRef; savings: AccountRef }[];
  customerBalance: bigint;
  merchants: AccountRef[][];
  initial: AccountState[];
}

export function planAccounts(
  prefix: string,
  banks: [string, string],
  counts: { plainPerBank: number; customers: number; workers: number },
): WorkloadAccounts {
  const [a, b] = banks;
  const plain = [a, b].flatMap((participant) =>
    Array.from({ length: counts.plainPerBank }, (_, i) => ({
      participant,
      account: `${prefix}-${participant}-p${i}`,
    })),
  );
  const customers = Array.from({ length: counts.customers }, (_, i) => {
    const customer = `${prefix}-c${i}`;
    return {
      customer,
      checking: { participant: a, account: `${customer}-chk` },
      savings: { participant: a, account: `${customer}-sav` },
    };
  });
  const merchants = Array.from({ length: counts.workers }, (_, w) =>
    [0, 1].map((j) => ({ participant: b, account: `${prefix}-m${w}-${j}` })),
  );
  const plainBalance = 100_000n;
  const customerBalance = 100n;
  const initial: AccountState[] = [
    ...plain.map((r) => ({ ...r, balance: String(plainBalance), version: 0, customer: null })),
    ...customers.flatMap((c) =>
      [c.checking, c.savings].map((r) => ({
        ...r,
        balance: String(customerBalance),
        version: 0,
        customer: c.customer,
      })),
    ),
    ...merchants.flat().map((r) => ({ ...r, balance: "0", version: 0, customer: null })),
  ];
  return { banks, plain, plainBalance, customers, customerBalance, merchants, initial };
}

/** Opens every account, with its bank's admin secret (how money enters a bank). */
export async function openAccounts(cluster: ClusterFile, accounts: WorkloadAccounts) {
  for (const s of accounts.initial) {
    const res = await fetch(`${participantOf(cluster, s.participant).participantUrl}/v1/accounts`, {
      method: "POST",
      headers: {
        authorization: `Bearer ${adminSecretOf(cluster, s.participant)}`,
        "content-type": "application/json",
      },
      body: JSON.stringify({
        id: s.account,
        balance: s.balance,
        ...(s.customer ? { customer: s.customer } : {}),
      }),
    });
    if (res.status !== 201)
      throw new Error(`opening ${s.participant}/${s.account}: ${res.status} ${await res.text()}`);
  }
}

/** Every account as its bank holds it now: balance and version. */
export async function readAccounts(
  cluster: ClusterFile,
  accounts: WorkloadAccounts,
): Promise<AccountState[]> {
  const states: AccountState[] = [];
  for (const s of accounts.initial) {
    const res = await fetch(
      `${participantOf(cluster, s.participant).participantUrl}/v1/accounts/${encodeURIComponent(s.account)}`,
      { headers: { authorization: `Bearer ${adminSecretOf(cluster, s.participant)}` } },
    );
    if (res.status !== 200)
      throw new Error(`reading ${s.participant}/${s.account}: ${res.status} ${await res.text()}`);
    const body = (await res.json()) as { balance: string; version: number };
    states.push({ ...s, balance: body.balance, version: body.version });
  }
  return states;
}
