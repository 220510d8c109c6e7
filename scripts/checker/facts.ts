/**
 * The facts the checker reasons about, as plain data: what each participant's PostgreSQL holds
 * (the framework's outcome rows and prepared transactions for every participant; accounts and
 * ledger for banks), what each application's own invariant checks say, what the coordinator's log
 * holds, and what clients were told. Gathering them is I/O (gather.ts); judging
 * them is pure (invariants.ts). This file also indexes them once, so each check is a loop.
 */
import type { InvariantCheck } from "../../participant/framework/application.js";
import type { TxRecord } from "../../shared/durable-log.js";

export type OutcomeState = "committed" | "aborted";
export type ClientOutcome = "committed" | "aborted" | "unknown" | "error";
export const CLIENT_OUTCOMES: readonly ClientOutcome[] = [
  "committed",
  "aborted",
  "unknown",
  "error",
];

export interface AccountFact {
  id: string;
  balance: bigint;
  /** The customer a linked account belongs to: it may be below zero, its customer's total not. */
  customer?: string | null;
}

export interface LedgerFact {
  txid: string | null;
  account: string;
  delta: bigint;
  kind: "transfer" | "open";
}

/** What every participant has, whatever its application: the framework's own tables. */
export interface ParticipantFacts {
  name: string;
  /** concord_txn: 'committed' exists iff the participant committed the txid; 'aborted' is a tombstone. */
  outcomes: Map<string, OutcomeState>;
  /** gids still in pg_prepared_xacts. */
  prepared: string[];
}

export interface BankFacts extends ParticipantFacts {
  accounts: AccountFact[];
  ledger: LedgerFact[];
}

/** What one participant's application said of its own invariants (GET /v1/invariants). */
export interface ApplicationFacts {
  participant: string;
  application: string;
  checks: InvariantCheck[];
  /** Why the participant could not be asked, when it could not. */
  error?: string;
}

/** The part of a log record the invariants need; a full TxRecord fits. */
export type LogFacts = Pick<TxRecord, "participants" | "decision" | "state" | "votes" | "presumed">;

export interface ClientEntry {
  txid: string;
  outcome: ClientOutcome;
}

export interface CheckInput {
  /** Every participant's protocol facts; without it, the banks' (a cluster of banks only). */
  participants?: ParticipantFacts[];
  /** The participants that are banks, with their accounts and ledger. */
  banks: BankFacts[];
  /** Each participant's application checks; without it, none were asked for. */
  applications?: ApplicationFacts[];
  /** Log records by txid, for every txid seen anywhere; a txid missing here has no record. */
  records: Map<string, LogFacts>;
  activeCounts: { undecided: number; unacked: number };
  /** A few txids of each active index, to name in I6's violations. */
  activeTxids?: { undecided: string[]; unacked: string[] };
  clientRecord?: ClientEntry[];
}

const GID_PATTERN =
  /^concord:([a-z][a-z0-9-]{0,31}):([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/;

/** The participant and txid of a Concord gid; undefined for a gid someone else prepared. */
export function parseGid(gid: string): { participant: string; txid: string } | undefined {
  const m = GID_PATTERN.exec(gid);
  return m?.[1] && m[2] ? { participant: m[1], txid: m[2] } : undefined;
}

/** Every participant of the input: all of them when given, else the banks. */
export function participantsOf(
  input: Pick<CheckInput, "participants" | "banks">,
): ParticipantFacts[] {
  return input.participants ?? input.banks;
}

/** Every txid the facts mention: the ones whose log records the checker must fetch. */
export function txidsToLookUp(
  participants: readonly (ParticipantFacts | BankFacts)[],
  clientRecord: readonly ClientEntry[] = [],
): string[] {
  const txids = new Set<string>();
  for (const participant of participants) {
    for (const txid of participant.outcomes.keys()) txids.add(txid);
    if ("ledger" in participant)
      for (const entry of participant.ledger) if (entry.txid !== null) txids.add(entry.txid);
    for (const gid of participant.prepared) {
      const parsed = parseGid(gid);
      if (parsed) txids.add(parsed.txid);
    }
  }
  for (const entry of clientRecord) txids.add(entry.txid);
  return [...txids].sort();
}

/** The facts indexed by txid, built once and shared by every check. */
export interface FactIndex {
  participants: Map<string, ParticipantFacts>;
  banks: Map<string, BankFacts>;
  committedAt: Map<string, string[]>;
  abortedAt: Map<string, string[]>;
  /** bank name -> txids that have at least one transfer entry in its ledger. */
  ledgerTxids: Map<string, Set<string>>;
  /** txid -> every outcome clients were told (a retried request can be recorded twice). */
  client: Map<string, Set<ClientOutcome>>;
}

export function indexFacts(input: CheckInput): FactIndex {
  const index: FactIndex = {
    participants: new Map(),
    banks: new Map(),
    committedAt: new Map(),
    abortedAt: new Map(),
    ledgerTxids: new Map(),
    client: new Map(),
  };
  for (const participant of participantsOf(input)) {
    index.participants.set(participant.name, participant);
    for (const [txid, state] of participant.outcomes)
      push(state === "committed" ? index.committedAt : index.abortedAt, txid, participant.name);
  }
  for (const bank of input.banks) {
    index.banks.set(bank.name, bank);
    const txids = new Set<string>();
    for (const entry of bank.ledger)
      if (entry.kind === "transfer" && entry.txid !== null) txids.add(entry.txid);
    index.ledgerTxids.set(bank.name, txids);
  }
  for (const { txid, outcome } of input.clientRecord ?? []) {
    const told = index.client.get(txid) ?? new Set<ClientOutcome>();
    told.add(outcome);
    index.client.set(txid, told);
  }
  return index;
}

function push(map: Map<string, string[]>, key: string, value: string): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}

/** Txids the client record says it was told `outcome` for, each once. */
export function clientTxids(index: FactIndex, outcome: ClientOutcome): string[] {
  return [...index.client].filter(([, told]) => told.has(outcome)).map(([txid]) => txid);
}

/**
 * The participants that must have applied a committed transaction: all of the record's except
 * those that voted read-only (they wrote nothing and left no outcome row). A one-phase record
 * has no votes, so its single participant is always expected.
 */
export function expectedAppliers(record: LogFacts): string[] {
  return record.participants.filter((p) => record.votes[p] !== "read-only");
}

/** The log's decision in words, for violation messages. */
export function describeDecision(record: LogFacts | undefined): string {
  if (!record) return "none, no log record (presumed abort, or expired after the retention period)";
  if (record.decision === undefined) return `undecided (state ${record.state})`;
  return record.presumed ? `${record.decision} (presumed)` : record.decision;
}
