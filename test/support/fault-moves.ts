/** Moves the fault tests share: open accounts, run a transfer that may die with a process, look at banks. */
import type { AxiosResponse } from "axios";
import pg from "pg";
import type { ClientOutcome } from "../../scripts/checker/facts.js";
import { adminSecretOf } from "../../scripts/cluster/cluster-file.js";
import {
  present,
  type AccountAnswer,
  type RunAnswer,
  type TransactionList,
  type TransactionSummary,
} from "./answers.js";
import { http, transferBody, uniqueAccount, type TransferSpec } from "./bank-client.js";
import { FAULT_ENV, type FaultHarness } from "./fault-harness.js";

export async function openPair(
  h: FaultHarness,
  fromBank = "bank-a",
  toBank = "bank-b",
  balance = 1000,
): Promise<TransferSpec> {
  const from = uniqueAccount("from");
  const to = uniqueAccount("to");
  for (const [bank, id] of [
    [fromBank, from],
    [toBank, to],
  ] as const) {
    const res = await http.post(
      `${h.url(bank)}/v1/accounts`,
      { id, balance: String(balance) },
      { headers: { authorization: `Bearer ${adminSecretOf(h.cluster, bank)}` } },
    );
    if (res.status !== 201) throw new Error(`opening ${bank}/${id}: ${res.status}`);
  }
  return {
    from: { bank: fromBank, account: from },
    to: { bank: toBank, account: to },
    amount: 100,
  };
}

/**
 * Sends a transfer; a coordinator that dies mid-request gives no HTTP answer, which is returned
 * as `undefined` rather than thrown. Whatever the client is told goes into the checker's record.
 */
export async function transferThroughFaults(
  h: FaultHarness,
  spec: TransferSpec,
  opts: { timeoutMs?: number; key?: string } = {},
): Promise<AxiosResponse<RunAnswer> | undefined> {
  const body = {
    ...(transferBody(spec) as object),
    ...(opts.timeoutMs ? { timeoutMs: opts.timeoutMs } : {}),
  };
  const res = await http
    .post<RunAnswer>(`${h.url("coordinator")}/v1/transactions`, body, {
      headers: opts.key ? { "idempotency-key": opts.key } : {},
    })
    .catch(() => undefined);
  if (res?.data.txid) h.record(res.data.txid, toldOutcome(res));
  return res;
}

/**
 * What an answer that names a txid tells the client, for the checker's record: the outcome of a
 * 200 (which always names one), `unknown` from a 503 that says so, an error otherwise.
 */
export function toldOutcome(res: AxiosResponse<RunAnswer>): ClientOutcome {
  if (res.status === 200) return present(res.data.outcome, "the outcome of a 200 answer");
  return res.data.outcome === "unknown" ? "unknown" : "error";
}

export async function balanceOf(h: FaultHarness, bank: string, account: string): Promise<bigint> {
  const res = await http.get<AccountAnswer>(`${h.url(bank)}/v1/accounts/${account}`);
  if (res.status !== 200) throw new Error(`reading ${bank}/${account}: ${res.status}`);
  return BigInt(present(res.data.balance, `${bank}/${account}'s balance`));
}

async function query<T extends pg.QueryResultRow>(
  h: FaultHarness,
  bank: string,
  sql: string,
  params: unknown[] = [],
): Promise<T[]> {
  const entry = h.cluster.banks.find((b) => b.name === bank);
  if (!entry) throw new Error(`no bank ${bank}`);
  const db = new pg.Client({ connectionString: entry.databaseUrl, connectionTimeoutMillis: 2000 });
  await db.connect();
  try {
    return (await db.query<T>(sql, params)).rows;
  } finally {
    await db.end();
  }
}

/** gids prepared right now at one bank (read straight from its PostgreSQL). */
export async function preparedAt(h: FaultHarness, bank: string): Promise<string[]> {
  return (
    await query<{ gid: string }>(
      h,
      bank,
      "SELECT gid FROM pg_prepared_xacts WHERE database = current_database()",
    )
  ).map((r) => r.gid);
}

/** gids prepared at one bank at least `ms` ago, by its PostgreSQL's clock. */
export async function preparedOlderThan(
  h: FaultHarness,
  bank: string,
  ms: number,
): Promise<string[]> {
  return (
    await query<{ gid: string }>(
      h,
      bank,
      "SELECT gid FROM pg_prepared_xacts WHERE database = current_database() AND prepared <= now() - make_interval(secs => $1::double precision / 1000)",
      [ms],
    )
  ).map((r) => r.gid);
}

/**
 * Waits until each bank has finished `passes` whole recovery passes that took up what it holds
 * prepared: first until everything prepared there is old enough for its recovery
 * (CONCORD_RECOVERY_MIN_AGE_MS, by the database's clock, as recovery measures it), then for
 * `passes` + 1 more finished passes (the first one counted may have begun before).
 */
export async function recoveryPassesGoBy(
  h: FaultHarness,
  banks: readonly string[],
  passes: number,
): Promise<void> {
  const minAgeMs = Number(FAULT_ENV.CONCORD_RECOVERY_MIN_AGE_MS);
  await Promise.all(
    banks.map(async (bank) => {
      await h.eventually(`what ${bank} holds prepared old enough for its recovery`, async () => {
        const all = await preparedAt(h, bank);
        return all.length > 0 && (await preparedOlderThan(h, bank, minAgeMs)).length === all.length;
      });
      const from = await h.recoveryPasses(bank);
      await h.eventually(
        `${passes} recovery passes of ${bank} over what it holds prepared`,
        async () => (await h.recoveryPasses(bank)) >= from + passes + 1,
      );
    }),
  );
}

/** Ledger entries of an account: how many times a transfer was applied there. */
export async function ledgerEntriesOf(
  h: FaultHarness,
  bank: string,
  account: string,
): Promise<{ txid: string; delta: bigint }[]> {
  const rows = await query<{ txid: string; delta: string }>(
    h,
    bank,
    "SELECT txid::text AS txid, delta::text AS delta FROM ledger WHERE account = $1 AND kind = 'transfer' ORDER BY id",
    [account],
  );
  return rows.map((r) => ({ txid: r.txid, delta: BigInt(r.delta) }));
}

/** Transactions the coordinator lists in a state (through whichever coordinator URL is given). */
export async function listed(
  coordinatorUrl: string,
  state: string,
  headers: Record<string, string> = {},
): Promise<TransactionSummary[]> {
  const res = await http.get<TransactionList>(
    `${coordinatorUrl}/v1/transactions?state=${state}&limit=100`,
    { headers },
  );
  return res.status === 200 ? present(res.data.transactions, "the list's transactions") : [];
}
