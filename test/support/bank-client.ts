/** Small helpers the integration tests use to talk to a running cluster. */
import axios, { type AxiosResponse } from "axios";
import pg from "pg";
import { waitUntilSettled } from "../../scripts/cluster/admin-client.js";
import { authenticateRequests } from "../../scripts/cluster/cluster-auth.js";
import {
  adminSecretOf,
  peerPairKey,
  type ClusterFile,
} from "../../scripts/cluster/cluster-file.js";
import { signerFor, type Signer } from "../../shared/auth.js";
import {
  CoordinatorClient,
  CoordinatorRequestError,
  CoordinatorUnavailableError,
  type ParticipantOperations,
} from "../../shared/client/index.js";
import { present, type AccountAnswer, type RunAnswer, type TransactionList } from "./answers.js";

/** The clusters the tests started, by state folder: their secrets authenticate `http`'s requests. */
const clusters = new Map<string, ClusterFile>();

export function registerCluster(cluster: ClusterFile): ClusterFile {
  clusters.set(cluster.dir, cluster);
  return cluster;
}

/**
 * What the tests talk to the services with: authenticated as a legitimate caller (client API
 * key, the coordinator's signature to participants) unless a test sets its own Authorization
 * or signature header to check the refusals. `raw` sends exactly what it is given.
 */
export const http = axios.create({ validateStatus: () => true, timeout: 30_000 });
http.interceptors.request.use(authenticateRequests(() => clusters.values()));
export const raw = axios.create({ validateStatus: () => true, timeout: 30_000 });

export function bankUrl(cluster: ClusterFile, name: string): string {
  const bank = cluster.banks.find((b) => b.name === name);
  if (!bank) throw new Error(`no bank ${name}`);
  return bank.participantUrl;
}

/** Opens and funds an account, of `customer` when one is given (a linked account). */
export async function openAccount(
  cluster: ClusterFile,
  bank: string,
  id: string,
  balance: bigint | number,
  customer?: string,
): Promise<void> {
  const res = await http.post(
    `${bankUrl(cluster, bank)}/v1/accounts`,
    { id, balance: String(balance), ...(customer !== undefined ? { customer } : {}) },
    { headers: { authorization: `Bearer ${adminSecretOf(cluster, bank)}` } },
  );
  if (res.status !== 201)
    throw new Error(`opening ${bank}/${id}: ${res.status} ${JSON.stringify(res.data)}`);
}

/**
 * The replies of a batch, in message order: the batch route answers one JSON line per message
 * ({index, status, body}) as each is done.
 */
export function batchReplies(res: AxiosResponse): { status: number; body: BatchReplyBody }[] {
  const text = typeof res.data === "string" ? res.data : "";
  const lines = text
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => JSON.parse(l) as { index: number; status: number; body: unknown });
  return lines
    .sort((a, b) => a.index - b.index)
    .map(({ status, body }) => ({ status, body: body as BatchReplyBody }));
}

/** What a batch reply's body may hold: a vote, an acknowledgement, or an error. */
export interface BatchReplyBody {
  vote?: string;
  reason?: string;
  txid?: string;
  state?: string;
  error?: { code?: string; field?: string; message?: string };
}

/** Signs as participant `from` asking peer `to`, with the secret of their pair. */
export function peerSigner(cluster: ClusterFile, from: string, to: string): Signer {
  const secret = cluster.secrets.peerSecrets[peerPairKey(from, to)];
  if (!secret) throw new Error(`no peer secret for ${from} and ${to}`);
  return signerFor({ secret, keyId: from, audience: to });
}

/** Every secret and password of a cluster: none may ever appear in a log. */
export function allSecrets(cluster: ClusterFile): string[] {
  const s = cluster.secrets;
  return [
    ...Object.values(s.apiKeys),
    ...Object.values(s.adminSecrets),
    ...Object.values(s.operatorSecrets),
    ...Object.values(s.participantSecrets),
    ...Object.values(s.peerSecrets),
    ...Object.values(s.passwords),
  ];
}

export async function account(
  cluster: ClusterFile,
  bank: string,
  id: string,
): Promise<{ balance: bigint; version: number }> {
  const res = await http.get<AccountAnswer>(`${bankUrl(cluster, bank)}/v1/accounts/${id}`);
  if (res.status !== 200)
    throw new Error(`reading ${bank}/${id}: ${res.status} ${JSON.stringify(res.data)}`);
  return {
    balance: BigInt(present(res.data.balance, `${bank}/${id}'s balance`)),
    version: present(res.data.version, `${bank}/${id}'s version`),
  };
}

export interface TransferSpec {
  from: { bank: string; account: string; expectedVersion?: number };
  to: { bank: string; account: string };
  amount: bigint | number | string;
}

export function transferBody(t: TransferSpec): unknown {
  return transferRequest(t);
}

/** The participants of a transfer, as the client library takes them. */
export function transferRequest(t: TransferSpec): { participants: ParticipantOperations[] } {
  return {
    participants: [
      {
        name: t.from.bank,
        operations: [
          {
            op: "debit",
            account: t.from.account,
            amount: String(t.amount),
            ...(t.from.expectedVersion !== undefined
              ? { expectedVersion: t.from.expectedVersion }
              : {}),
          },
        ],
      },
      {
        name: t.to.bank,
        operations: [{ op: "credit", account: t.to.account, amount: String(t.amount) }],
      },
    ],
  };
}

/**
 * The coordinator client each test talks through, by cluster and credential. It sends once
 * (no retries of its own), so a test sees exactly what the coordinator answered.
 */
const clients = new Map<string, CoordinatorClient>();

export function clientFor(
  cluster: ClusterFile,
  apiKey = cluster.secrets.apiKey,
): CoordinatorClient {
  const key = `${cluster.dir}\n${apiKey}`;
  let client = clients.get(key);
  if (!client) {
    client = new CoordinatorClient({
      url: cluster.coordinator.url,
      apiKey,
      retries: 0,
      timeoutMs: 30_000,
    });
    clients.set(key, client);
  }
  return client;
}

/** What a test reads of the coordinator's answer to a run: its status, body and headers. */
export interface RunReply {
  status: number;
  data: RunAnswer;
  headers: Record<string, string | undefined>;
}

/**
 * Runs a transfer through the client library (concord/client) and gives the answer back as the
 * coordinator sent it: a result is a 200 (a 503 when unknown), a refusal its status and body.
 * `headers` may carry the credential (`authorization: Bearer <key>`) and an `idempotency-key`
 * (the client makes one otherwise).
 */
export async function transfer(
  cluster: ClusterFile,
  t: TransferSpec,
  headers: Record<string, string> = {},
): Promise<RunReply> {
  const bearer = headers.authorization?.replace(/^Bearer /, "");
  const key = headers["idempotency-key"];
  try {
    const r = await clientFor(cluster, bearer).run({
      ...transferRequest(t),
      ...(key !== undefined ? { idempotencyKey: key } : {}),
    });
    const reason = r.outcome === "committed" ? undefined : r.reason;
    const answer = {
      txid: r.txid,
      outcome: r.outcome,
      ...(reason !== undefined ? { reason } : {}),
      participants: r.participants,
      attempts: r.attempts,
    };
    const unknown = r.outcome === "unknown";
    return {
      status: unknown ? 503 : 200,
      data: (unknown
        ? { ...answer, error: { code: "outcome-unknown", message: r.reason } }
        : answer) as RunAnswer,
      headers: r.replayed ? { "idempotent-replayed": "true" } : {},
    };
  } catch (err) {
    return replyOfRefusal(err);
  }
}

/** A refusal as the coordinator sent it; no answer at all throws, as axios did. */
function replyOfRefusal(err: unknown): RunReply {
  if (err instanceof CoordinatorRequestError)
    return {
      status: err.status,
      data: { ...err.answer, error: err.error } as RunAnswer,
      headers: { "retry-after": err.retryAfterSeconds?.toString() },
    };
  if (err instanceof CoordinatorUnavailableError && err.lastStatus !== undefined)
    return {
      status: err.lastStatus,
      data: { error: { code: "unavailable", message: err.message } },
      headers: {},
    };
  throw err;
}

/** Opens a database connection to one bank's PostgreSQL, runs `work`, closes it. */
export async function withBankDb<T>(
  cluster: ClusterFile,
  bank: string,
  work: (db: pg.Client) => Promise<T>,
): Promise<T> {
  // Any participant's database, banks first (the inventory's too: the name is all it takes).
  const entry = cluster.participants.find((p) => p.name === bank);
  if (!entry) throw new Error(`no participant ${bank}`);
  const db = new pg.Client({ connectionString: entry.databaseUrl });
  await db.connect();
  try {
    return await work(db);
  } finally {
    await db.end();
  }
}

/** Prepared transactions left at any participant: after every test this must be zero. */
export async function preparedLeft(cluster: ClusterFile): Promise<number> {
  let total = 0;
  for (const participant of cluster.participants) {
    total += await withBankDb(cluster, participant.name, (db) =>
      countOf(db, "SELECT count(*) AS n FROM pg_prepared_xacts"),
    );
  }
  return total;
}

/** The count a `SELECT count(*) AS n …` gives (PostgreSQL sends a bigint as text). */
export async function countOf(db: pg.Client, sql: string): Promise<number> {
  const { rows } = await db.query<{ n: string }>(sql);
  return Number(present(rows[0], `the row of ${sql}`).n);
}

/** The sum of every balance at every bank, and the number of ledger entries. */
export async function snapshot(
  cluster: ClusterFile,
): Promise<{ total: bigint; ledgerEntries: number; perAccount: Map<string, bigint> }> {
  let total = 0n;
  let ledgerEntries = 0;
  const perAccount = new Map<string, bigint>();
  for (const bank of cluster.banks) {
    await withBankDb(cluster, bank.name, async (db) => {
      const { rows } = await db.query<{ id: string; balance: string }>(
        "SELECT id, balance::text AS balance FROM accounts",
      );
      for (const r of rows) {
        total += BigInt(r.balance);
        perAccount.set(`${bank.name}/${r.id}`, BigInt(r.balance));
      }
      ledgerEntries += await countOf(db, "SELECT count(*) AS n FROM ledger");
    });
  }
  return { total, ledgerEntries, perAccount };
}

/** Ledger entries of one txid at one bank. */
export async function ledgerOf(
  cluster: ClusterFile,
  bank: string,
  txid: string,
): Promise<{ account: string; delta: bigint }[]> {
  return withBankDb(cluster, bank, async (db) => {
    const { rows } = await db.query<{ account: string; delta: string }>(
      "SELECT account, delta::text AS delta FROM ledger WHERE txid = $1",
      [txid],
    );
    return rows.map((r) => ({ account: r.account, delta: BigInt(r.delta) }));
  });
}

let counter = 0;
/** Account ids unique to this test run, so suites never see each other's money. */
export function uniqueAccount(prefix: string): string {
  counter += 1;
  return `${prefix}-${process.pid}-${Date.now().toString(36)}-${counter}`;
}

/** How many transactions the coordinator lists to the default caller, up to 500: what a refused request must not grow. */
export async function loggedCount(cluster: ClusterFile): Promise<number> {
  const res = await http.get<TransactionList>(
    `${cluster.coordinator.url}/v1/transactions?limit=500`,
  );
  return present(res.data.transactions, `the list's transactions (${res.status})`).length;
}

/**
 * Waits until the coordinator has no transaction in flight (bounded), so checks of what is
 * left at the banks see the system at rest rather than mid-phase-2.
 */
export async function settled(cluster: ClusterFile, boundMs = 30_000): Promise<void> {
  if (await waitUntilSettled(cluster, boundMs)) return;
  const res = await http.get(`${cluster.coordinator.url}/v1/transactions?state=active&limit=5`);
  throw new Error(`transactions still in flight after ${boundMs} ms: ${JSON.stringify(res.data)}`);
}
