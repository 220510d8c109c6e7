/**
 * Reads the checker's facts from a running cluster: each participant's PostgreSQL, then the
 * coordinator's log in Redis, then each participant's own invariant checks (GET /v1/invariants,
 * with its admin secret). Only reads; nothing here changes the cluster.
 */
import axios from "axios";
import { Redis } from "ioredis";
import pg from "pg";
import type { InvariantCheck } from "../../participant/framework/application.js";
import { DurableLog } from "../../shared/durable-log.js";
import {
  adminSecretOf,
  isBank,
  type ClusterFile,
  type ParticipantEntry,
} from "../cluster/cluster-file.js";
import {
  txidsToLookUp,
  type ApplicationFacts,
  type BankFacts,
  type CheckInput,
  type ClientEntry,
  type LedgerFact,
  type LogFacts,
  type OutcomeState,
  type ParticipantFacts,
} from "./facts.js";

/** getMany pipelines one HGETALL per txid: batches keep each pipeline's reply bounded. */
const LOG_BATCH = 500;
/** The checker loads whole tables into memory; past this it refuses instead of running out. */
const MAX_ROWS_PER_TABLE = 5_000_000;
const ACTIVE_EXAMPLES = 5;
/** An application's checks read its whole database: give them time. */
const INVARIANTS_TIMEOUT_MS = 60_000;

export async function gatherFacts(
  cluster: ClusterFile,
  clientRecord?: ClientEntry[],
): Promise<CheckInput> {
  // Participants before the log: a decision is logged before any participant commits, so every
  // commit seen at a participant already has its decision in the log when the log is read after.
  const participants = await Promise.all(cluster.participants.map(gatherParticipant));
  const banks = participants.filter((p): p is BankFacts => "ledger" in p);
  const log = await gatherLog(
    cluster.coordinator.redisUrl,
    txidsToLookUp(participants, clientRecord),
  );
  const applications = await Promise.all(
    cluster.participants.map((p) => askInvariants(cluster, p)),
  );
  return { participants, banks, applications, ...log, ...(clientRecord ? { clientRecord } : {}) };
}

async function gatherParticipant(
  participant: ParticipantEntry,
): Promise<ParticipantFacts | BankFacts> {
  const client = new pg.Client({
    connectionString: participant.databaseUrl,
    connectionTimeoutMillis: 5000,
    statement_timeout: 60_000,
  });
  try {
    await client.connect();
    // One snapshot per participant, so balances, ledger and outcome rows agree with each other
    // even if a transaction commits while the checker reads.
    await client.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    const facts = await readProtocol(client, participant.name);
    const result = isBank(participant) ? { ...facts, ...(await readBank(client)) } : facts;
    await client.query("COMMIT");
    return result;
  } catch (err) {
    throw new Error(
      `reading ${participant.application} ${participant.name} at ${where(participant.databaseUrl)}: ${(err as Error).message}`,
      { cause: err },
    );
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** A bank's own tables: accounts and the ledger. */
async function readBank(client: pg.Client): Promise<Pick<BankFacts, "accounts" | "ledger">> {
  const accounts = await rows<{ id: string; balance: string; customer: string | null }>(
    client,
    "SELECT id, balance::text AS balance, customer FROM accounts ORDER BY id",
  );
  const ledger = await rows<{ txid: string | null; account: string; delta: string; kind: string }>(
    client,
    "SELECT txid::text AS txid, account, delta::text AS delta, kind FROM ledger ORDER BY id",
  );
  return {
    accounts: accounts.map((a) => ({
      id: a.id,
      balance: BigInt(a.balance),
      customer: a.customer,
    })),
    ledger: ledger.map(toLedgerFact),
  };
}

/** The framework's tables, which every participant has: outcome rows and prepared transactions. */
async function readProtocol(client: pg.Client, name: string): Promise<ParticipantFacts> {
  const outcomes = await rows<{ txid: string; state: OutcomeState }>(
    client,
    "SELECT txid::text AS txid, state FROM concord_txn",
  );
  // gids are unique per server, not per database: keep only this bank's database.
  const prepared = await rows<{ gid: string }>(
    client,
    "SELECT gid FROM pg_prepared_xacts WHERE database = current_database() ORDER BY gid",
  );
  return {
    name,
    outcomes: new Map(outcomes.map((o) => [o.txid, o.state])),
    prepared: prepared.map((p) => p.gid),
  };
}

/**
 * The participant's application's own checks, as the participant's operator asks for them. A
 * participant that cannot be asked is a fact too: the report says so instead of failing whole.
 */
async function askInvariants(
  cluster: ClusterFile,
  participant: ParticipantEntry,
): Promise<ApplicationFacts> {
  const facts = { participant: participant.name, application: participant.application };
  try {
    const res = await axios.get<{ checks?: InvariantCheck[] }>(
      `${participant.participantUrl}/v1/invariants`,
      {
        headers: { authorization: `Bearer ${adminSecretOf(cluster, participant.name)}` },
        timeout: INVARIANTS_TIMEOUT_MS,
        validateStatus: () => true,
      },
    );
    if (res.status !== 200 || !Array.isArray(res.data.checks))
      return { ...facts, checks: [], error: `GET /v1/invariants answered ${res.status}` };
    return { ...facts, checks: res.data.checks };
  } catch (err) {
    return { ...facts, checks: [], error: (err as Error).message };
  }
}

async function rows<T extends pg.QueryResultRow>(client: pg.Client, sql: string): Promise<T[]> {
  const result = await client.query<T>(`${sql} LIMIT ${MAX_ROWS_PER_TABLE + 1}`);
  if (result.rows.length > MAX_ROWS_PER_TABLE)
    throw new Error(`more than ${MAX_ROWS_PER_TABLE} rows from: ${sql}`);
  return result.rows;
}

function toLedgerFact(row: {
  txid: string | null;
  account: string;
  delta: string;
  kind: string;
}): LedgerFact {
  if (row.kind !== "transfer" && row.kind !== "open")
    throw new Error(`ledger entry of unknown kind ${JSON.stringify(row.kind)}`);
  return { txid: row.txid, account: row.account, delta: BigInt(row.delta), kind: row.kind };
}

async function gatherLog(
  redisUrl: string,
  txids: string[],
): Promise<Pick<CheckInput, "records" | "activeCounts" | "activeTxids">> {
  // No retries: a checker that cannot reach the log should say so at once, not hang.
  const redis = new Redis(redisUrl, {
    lazyConnect: true,
    connectTimeout: 5000,
    maxRetriesPerRequest: 1,
    retryStrategy: () => null,
  });
  // Errors reach the caller through the rejected commands, but those only say "Connection is
  // closed"; the event carries the cause (refused, wrong password) worth reporting.
  let connectionError: Error | undefined;
  redis.on("error", (err: Error) => (connectionError = err));
  try {
    await redis.connect();
    const log = new DurableLog(redis, { namespace: "coordinator", retentionSeconds: 86_400 });
    const records = new Map<string, LogFacts>();
    for (let i = 0; i < txids.length; i += LOG_BATCH) {
      for (const record of await log.getMany(txids.slice(i, i + LOG_BATCH)))
        records.set(record.txid, record);
    }
    const activeCounts = await log.activeCounts();
    const activeTxids = {
      undecided: await log.listIndex("undecided", ACTIVE_EXAMPLES),
      unacked: await log.listIndex("unacked", ACTIVE_EXAMPLES),
    };
    return { records, activeCounts, activeTxids };
  } catch (err) {
    const reason = connectionError
      ? `${(err as Error).message} (${connectionError.message})`
      : (err as Error).message;
    throw new Error(`reading the coordinator's log at ${where(redisUrl)}: ${reason}`, {
      cause: err,
    });
  } finally {
    redis.disconnect();
  }
}

/** host:port/path of a URL, never its password: error messages end up in CI logs. */
function where(url: string): string {
  try {
    const u = new URL(url);
    return `${u.host}${u.pathname === "/" ? "" : u.pathname}`;
  } catch {
    return "(unparsable URL)";
  }
}
