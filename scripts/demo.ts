/**
 * `npm run demo`: money moves between banks, atomically, and the total never changes.
 * Starts a local 3-bank cluster unless one is running, opens accounts, shows the balances,
 * runs a few hundred concurrent transfers (some deliberately overdrawing), shows the balances
 * again, and checks the invariants. Exits non-zero if any check fails.
 */
import pg from "pg";
import {
  CoordinatorRequestError,
  CoordinatorUnavailableError,
  type CoordinatorClient,
  type RunResult,
} from "../shared/client/index.js";
import { parseArgs, runCli, UsageError } from "./cli-args.js";
import { waitUntilSettled } from "./cluster/admin-client.js";
import type { ClusterFile } from "./cluster/cluster-file.js";
import {
  clientOf,
  clusterFor,
  DEFAULT_CLUSTER_DIR,
  listBalances,
  openOrReuse,
  out,
  printChecks,
} from "./demo-cluster.js";
import { money, progressBar, table } from "./demo-format.js";
import { runOrderScenario } from "./demo-order.js";

const USAGE = `usage: npm run demo [-- --scenario transfer|order] [--transfers N] [--concurrency C] [--dir D]

  --scenario S      transfer (default): concurrent transfers between banks;
                    order: orders that each debit a customer at one bank, credit the shop at
                    another and reserve stock at the inventory, in one transaction
  --transfers N     transfers to run (default 300; transfer scenario)
  --concurrency C   transfers in flight at once (default 16; transfer scenario)
  --dir D           cluster state folder (default ${DEFAULT_CLUSTER_DIR})`;

const HOLDERS = ["alice", "bob", "carol", "dave", "erin"];
const OPENING_BALANCE = 100_000n; // 1,000.00

interface Account {
  bank: string;
  id: string;
}

interface Outcome {
  txid: string;
  outcome: string;
  reason: string;
  /** Every attempt the coordinator made (a transient conflict is run again), first to last. */
  attempts: { txid: string; outcome: string; reason?: string | undefined }[];
}

runCli("demo", USAGE, async () => {
  const { flags } = parseArgs(process.argv.slice(2), {
    scenario: "string",
    transfers: "number",
    concurrency: "number",
    dir: "string",
  });
  const scenario = String(flags.scenario ?? "transfer");
  if (scenario !== "transfer" && scenario !== "order")
    throw new UsageError(`--scenario must be transfer or order, got ${scenario}`);
  const transfers = Number(flags.transfers ?? 300);
  const concurrency = Number(flags.concurrency ?? 16);
  if (!Number.isInteger(transfers) || transfers < 1 || transfers > 100_000)
    throw new UsageError("--transfers must be an integer from 1 to 100000");
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 256)
    throw new UsageError("--concurrency must be an integer from 1 to 256");
  const dir = String(flags.dir ?? DEFAULT_CLUSTER_DIR);

  const cluster = await clusterFor(dir);
  const client = clientOf(cluster);
  try {
    const ok =
      scenario === "order"
        ? await runOrderScenario(cluster, client)
        : await transferScenario(cluster, client, transfers, concurrency);
    out(
      `\nThe cluster is still running (${cluster.coordinator.url}); stop it with: npm run cluster -- stop${dir === DEFAULT_CLUSTER_DIR ? "" : ` --dir ${dir}`}`,
    );
    return ok ? 0 : 1;
  } finally {
    await client.close();
  }
});

async function transferScenario(
  cluster: ClusterFile,
  client: CoordinatorClient,
  transfers: number,
  concurrency: number,
): Promise<boolean> {
  const accounts = await openAccounts(cluster);
  const before = await balances(cluster, accounts);
  out("\nBalances before:");
  printBalances(cluster, accounts, before);

  out(
    `\nRunning ${transfers} transfers between banks, ${concurrency} at a time (about 1 in 10 overdraws on purpose):`,
  );
  const results = await runTransfers(client, accounts, transfers, concurrency);
  // The checks look at the banks at rest; if phase 2 is still running after the bound, the
  // checks below say what is left.
  await waitUntilSettled(cluster);
  const after = await balances(cluster, accounts);
  out("\nBalances after:");
  printBalances(cluster, accounts, after);
  printOutcomes(results);

  const ok = await runChecks(cluster, before, after, results);
  await showHistory(cluster, client, results);
  return ok;
}

/** Opens each holder's account at each bank; accounts from an earlier run are reused. */
async function openAccounts(cluster: ClusterFile): Promise<Account[]> {
  const accounts: Account[] = [];
  for (const bank of cluster.banks) {
    for (const id of HOLDERS) {
      await openOrReuse(cluster, bank.name, "/v1/accounts", {
        id,
        balance: OPENING_BALANCE.toString(),
      });
      accounts.push({ bank: bank.name, id });
    }
  }
  return accounts;
}

const key = (a: Account) => `${a.bank}/${a.id}`;

async function balances(cluster: ClusterFile, accounts: Account[]): Promise<Map<string, bigint>> {
  const result = new Map<string, bigint>();
  for (const bank of cluster.banks) {
    for (const a of await listBalances(cluster, bank.name)) {
      if (accounts.some((x) => x.bank === bank.name && x.id === a.id))
        result.set(`${bank.name}/${a.id}`, BigInt(a.balance));
    }
  }
  return result;
}

function printBalances(
  cluster: ClusterFile,
  accounts: Account[],
  values: Map<string, bigint>,
): void {
  const headers = ["holder", ...cluster.banks.map((b) => b.name)];
  const rows = HOLDERS.map((h) => [
    h,
    ...cluster.banks.map((b) => money(values.get(`${b.name}/${h}`) ?? 0n)),
  ]);
  const bankTotals = cluster.banks.map((b) =>
    accounts.filter((a) => a.bank === b.name).reduce((s, a) => s + (values.get(key(a)) ?? 0n), 0n),
  );
  rows.push(["bank total", ...bankTotals.map(money)]);
  out(table(headers, rows, headers.map((_, i) => i).slice(1)));
  out(`total over all banks: ${money(bankTotals.reduce((s, v) => s + v, 0n))}`);
}

async function runTransfers(
  client: CoordinatorClient,
  accounts: Account[],
  count: number,
  concurrency: number,
): Promise<Outcome[]> {
  const results: Outcome[] = [];
  const progress = progressBar(count);
  let next = 0;
  const tally = () =>
    `committed ${results.filter((r) => r.outcome === "committed").length}, aborted ${results.filter((r) => r.outcome === "aborted").length}`;
  const worker = async () => {
    while (next < count) {
      next++;
      const from = pick(accounts);
      let to = pick(accounts);
      while (to.bank === from.bank) to = pick(accounts);
      // One in ten asks for more than any account holds: it must abort at the debiting bank
      // and leave the credit at the other bank undone.
      const amount = Math.random() < 0.1 ? 10_000_000 : 100 + Math.floor(Math.random() * 30_000);
      const participants = [
        {
          name: from.bank,
          operations: [{ op: "debit", account: from.id, amount: String(amount) }],
        },
        { name: to.bank, operations: [{ op: "credit", account: to.id, amount: String(amount) }] },
      ];
      results.push(await client.run({ participants }).then(outcomeOf, outcomeOfError));
      progress(results.length, tally());
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return results;
}

function outcomeOf(r: RunResult): Outcome {
  return {
    txid: r.txid,
    outcome: r.outcome,
    reason:
      r.participants.find((p) => p.reason)?.reason ??
      (r.outcome === "committed" ? "" : (r.reason ?? "")),
    attempts: r.attempts,
  };
}

/** A refusal (the transfer may have begun: its answer says), or no answer at all. */
function outcomeOfError(err: unknown): Outcome {
  if (err instanceof CoordinatorRequestError)
    return {
      txid: err.answer?.txid ?? "",
      outcome: err.answer?.outcome ?? "error",
      reason: err.code,
      attempts: err.answer?.attempts ?? [],
    };
  if (err instanceof CoordinatorUnavailableError)
    return { txid: "", outcome: "error", reason: `no answer (${err.message})`, attempts: [] };
  throw err;
}

function pick<T>(items: T[]): T {
  return items[Math.floor(Math.random() * items.length)] as T;
}

function printOutcomes(results: Outcome[]): void {
  const counts = new Map<string, number>();
  for (const r of results) {
    const label =
      r.outcome === "committed" ? "committed" : `${r.outcome} (${r.reason || "no reason given"})`;
    counts.set(label, (counts.get(label) ?? 0) + 1);
  }
  out("\nOutcomes:");
  for (const [label, n] of [...counts].sort((a, b) => b[1] - a[1]))
    out(`  ${String(n).padStart(5)}  ${label}`);
  // A transfer that met another on the same account was refused at once and run again (the
  // coordinator retries conflicts): how many needed more than one attempt, and how many in all.
  const committed = results.filter((r) => r.outcome === "committed");
  const retried = committed.filter((r) => r.attempts.length > 1);
  const attempts = committed.reduce((s, r) => s + Math.max(1, r.attempts.length), 0);
  const conflicts = results
    .flatMap((r) => r.attempts)
    .filter(
      (a) => a.outcome === "aborted" && /conflict|lock-timeout|deadlock|busy/.test(a.reason ?? ""),
    ).length;
  out(
    `\nAttempts: ${committed.length - retried.length} committed at the first attempt, ${retried.length} after a retry (most ${Math.max(1, ...committed.map((r) => r.attempts.length))});`,
  );
  out(
    `  ${(committed.length === 0 ? 0 : attempts / committed.length).toFixed(2)} attempts per committed transfer; ${conflicts} attempts refused for a conflict and run again.`,
  );
}

async function runChecks(
  cluster: ClusterFile,
  before: Map<string, bigint>,
  after: Map<string, bigint>,
  results: Outcome[],
): Promise<boolean> {
  const sum = (m: Map<string, bigint>) => [...m.values()].reduce((s, v) => s + v, 0n);
  const committed = results.filter((r) => r.outcome === "committed").map((r) => r.txid);
  // Every aborted attempt, the ones a committed transfer left behind included: none may have left a trace.
  const aborted = results.flatMap((r) =>
    r.attempts.length > 0
      ? r.attempts.filter((a) => a.outcome === "aborted").map((a) => a.txid)
      : r.outcome === "aborted"
        ? [r.txid]
        : [],
  );
  const perBank = await Promise.all(
    cluster.banks.map((b) => bankFacts(b.databaseUrl, committed, aborted)),
  );
  const prepared = perBank.reduce((s, f) => s + f.prepared, 0);
  const committedEntries = perBank.reduce((s, f) => s + f.committedEntries, 0);
  const abortedEntries = perBank.reduce((s, f) => s + f.abortedEntries, 0);
  const checks: [string, boolean][] = [
    [
      `total unchanged (${money(sum(before))} before, ${money(sum(after))} after)`,
      sum(before) === sum(after),
    ],
    [`no balance is negative`, [...after.values()].every((v) => v >= 0n)],
    [
      `every committed transfer is in the ledger at both its banks (${committedEntries} entries for ${committed.length} transfers)`,
      committedEntries === committed.length * 2,
    ],
    [
      `no aborted transfer or attempt left a ledger entry anywhere (${abortedEntries} found for ${aborted.length} aborted attempts)`,
      abortedEntries === 0,
    ],
    [`no prepared transaction left at any bank (${prepared} found)`, prepared === 0],
    [
      `every transfer got an answer (${results.filter((r) => r.outcome !== "committed" && r.outcome !== "aborted").length} without)`,
      results.every((r) => r.outcome === "committed" || r.outcome === "aborted"),
    ],
  ];
  return printChecks(checks);
}

async function bankFacts(
  databaseUrl: string,
  committed: string[],
  aborted: string[],
): Promise<{ prepared: number; committedEntries: number; abortedEntries: number }> {
  const db = new pg.Client({ connectionString: databaseUrl });
  await db.connect();
  try {
    const prepared = Number(
      (await db.query<{ n: string }>("SELECT count(*) AS n FROM pg_prepared_xacts")).rows[0]?.n,
    );
    const count = async (txids: string[]) =>
      Number(
        (
          await db.query<{ n: string }>(
            "SELECT count(*) AS n FROM ledger WHERE txid = ANY($1::uuid[])",
            [txids],
          )
        ).rows[0]?.n,
      );
    return {
      prepared,
      committedEntries: await count(committed),
      abortedEntries: await count(aborted),
    };
  } finally {
    await db.end();
  }
}

async function showHistory(
  cluster: ClusterFile,
  client: CoordinatorClient,
  results: Outcome[],
): Promise<void> {
  const sample = results.find((r) => r.outcome === "committed") ?? results[0];
  if (!sample?.txid) return;
  const tx = await client.get(sample.txid).catch(() => undefined);
  if (!tx) return;
  out(`\nOne transfer's history, from GET ${cluster.coordinator.url}/v1/transactions/${tx.txid}:`);
  out(
    `  state ${tx.state}; ${tx.participants.map((p) => `${p.name} voted ${p.vote ?? "-"}${p.acknowledgedAt ? `, acknowledged ${p.acknowledgedAt}` : ""}`).join("; ")}`,
  );
  for (const e of tx.events) out(`  ${e.at ?? "?"}  ${e.type.padEnd(9)} ${JSON.stringify(e.data)}`);
}
