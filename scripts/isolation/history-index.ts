/**
 * A history indexed once, so each anomaly check is a pass over maps instead of over all pairs of
 * transactions: committed writes per account sorted by version, each committed transaction's
 * reads and writes per account, the accounts before and after.
 */
import {
  accountKey,
  type AccountRef,
  type AccountState,
  type History,
  type HistoryTxn,
} from "./history.js";

export interface IndexedWrite {
  txn: string;
  version: number;
  delta: bigint;
  balance: bigint;
}

export interface Observation {
  version: number;
  balance: bigint;
}

/** What one transaction did to one account. */
export interface AccountReads {
  ref: AccountRef;
  /** In the order the transaction read them. */
  observed: Observation[];
  minVersion: number;
  maxVersion: number;
}

export interface AccountWrites {
  ref: AccountRef;
  versions: number[];
  minVersion: number;
  maxVersion: number;
}

export interface IndexedTxn {
  id: string;
  label: string;
  reads: Map<string, AccountReads>;
  writes: Map<string, AccountWrites>;
}

export interface HistoryIndex {
  /** Committed transactions only, in history order: aborted ones changed and saw nothing. */
  committed: IndexedTxn[];
  byId: Map<string, IndexedTxn>;
  /** Committed writes per account key, sorted by post-write version. */
  writesByAccount: Map<string, IndexedWrite[]>;
  initial: Map<string, AccountState>;
  final: Map<string, AccountState>;
  /** Every account named anywhere, by key. */
  refs: Map<string, AccountRef>;
  unknownTxns: string[];
}

export function indexHistory(history: History): HistoryIndex {
  const index: HistoryIndex = {
    committed: [],
    byId: new Map(),
    writesByAccount: new Map(),
    initial: byKey(history.initial),
    final: byKey(history.final),
    refs: new Map(),
    unknownTxns: history.txns.filter((t) => t.outcome === "unknown").map((t) => t.id),
  };
  for (const ref of [...history.initial, ...history.final]) index.refs.set(accountKey(ref), ref);
  for (const txn of history.txns) {
    if (txn.outcome !== "committed") continue;
    const indexed = indexTxn(index, txn);
    index.committed.push(indexed);
    index.byId.set(txn.id, indexed);
  }
  for (const writes of index.writesByAccount.values()) writes.sort((a, b) => a.version - b.version);
  return index;
}

function indexTxn(index: HistoryIndex, txn: HistoryTxn): IndexedTxn {
  const indexed: IndexedTxn = { id: txn.id, label: txn.label, reads: new Map(), writes: new Map() };
  for (const r of txn.reads) {
    const key = remember(index, r);
    const observation = { version: r.version, balance: BigInt(r.balance) };
    const seen = indexed.reads.get(key);
    if (seen === undefined) {
      indexed.reads.set(key, {
        ref: r,
        observed: [observation],
        minVersion: r.version,
        maxVersion: r.version,
      });
    } else {
      seen.observed.push(observation);
      seen.minVersion = Math.min(seen.minVersion, r.version);
      seen.maxVersion = Math.max(seen.maxVersion, r.version);
    }
  }
  for (const w of txn.writes) {
    const key = remember(index, w);
    pushTo(index.writesByAccount, key, {
      txn: txn.id,
      version: w.version,
      delta: BigInt(w.delta),
      balance: BigInt(w.balance),
    });
    const mine = indexed.writes.get(key);
    if (mine === undefined) {
      indexed.writes.set(key, {
        ref: w,
        versions: [w.version],
        minVersion: w.version,
        maxVersion: w.version,
      });
    } else {
      mine.versions.push(w.version);
      mine.minVersion = Math.min(mine.minVersion, w.version);
      mine.maxVersion = Math.max(mine.maxVersion, w.version);
    }
  }
  return indexed;
}

function byKey(states: readonly AccountState[]): Map<string, AccountState> {
  return new Map(states.map((s) => [accountKey(s), s]));
}

function remember(index: HistoryIndex, ref: AccountRef): string {
  const key = accountKey(ref);
  if (!index.refs.has(key))
    index.refs.set(key, { participant: ref.participant, account: ref.account });
  return key;
}

export function pushTo<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list === undefined) map.set(key, [value]);
  else list.push(value);
}

/** The first index in `sorted` whose version is greater than `version` (binary search). */
export function firstAfter(sorted: readonly { version: number }[], version: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((sorted[mid]?.version ?? Infinity) <= version) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * The balance an account had at `version`, where the history says it unambiguously: the initial
 * state, or the post-write balance of the one committed write that produced that version.
 */
export function balanceAt(index: HistoryIndex, key: string, version: number): bigint | undefined {
  const initial = index.initial.get(key);
  if (initial !== undefined && initial.version === version) return BigInt(initial.balance);
  const writes = index.writesByAccount.get(key) ?? [];
  const at = firstAfter(writes, version - 1);
  const write = writes[at];
  if (write === undefined || write.version !== version) return undefined;
  const next = writes[at + 1];
  return next !== undefined && next.version === version ? undefined : write.balance;
}
