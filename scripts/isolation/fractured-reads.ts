/**
 * Fractured reads (read skew across accounts, Elle's G-single shape): a committed transaction R
 * that saw a committed writer T's write on one account and not its write on another. Both of T's
 * writes became visible at once or R's reads were not one snapshot.
 *
 * For every ordered pair of accounts (x, y), each transaction that wrote both is a point
 * (a = the last version it left on x, b = the first on y). R saw T on x when R's newest read of x
 * is at least a, and missed it on y when R's oldest read of y is below b: a dominance query, so the
 * check costs the reads' account pairs times log n plus the answer, never all pairs of transactions.
 *
 * The bank test's symptom, a read of a whole conserved set that does not add up to its total, is
 * reported too when no such writer explains it (a writer the history did not record, say).
 */
import { finding, type Anomaly } from "./anomaly-kinds.js";
import { accountKey, accountName, type ConservedSet } from "./history.js";
import type { AccountReads, HistoryIndex, IndexedTxn } from "./history-index.js";
import { DominanceIndex, type Point } from "./dominance.js";

const KIND = "fractured-read";

interface Writer {
  txn: string;
  /** The last version the writer left on the account R saw it on. */
  seenVersion: number;
  /** The first version the writer left on the account R missed it on. */
  missedVersion: number;
}

export interface FracturedReads {
  anomalies: Anomaly[];
  /** Per reader, the account-key pairs (seen, missed) of its fractures, for checks that need a snapshot. */
  fracturedPairs: Map<string, [string, string][]>;
}

export function findFracturedReads(
  index: HistoryIndex,
  conservedSets: readonly ConservedSet[] = [],
): FracturedReads {
  const writers = writersOfPairs(index);
  const anomalies: Anomaly[] = [];
  const fracturedPairs = new Map<string, [string, string][]>();
  for (const reader of index.committed) {
    const { found, pairs } = fracturesOf(reader, writers);
    anomalies.push(...found);
    if (pairs.length > 0) fracturedPairs.set(reader.id, pairs);
  }
  for (const set of conservedSets) anomalies.push(...unbalancedReads(index, set, fracturedPairs));
  return { anomalies, fracturedPairs };
}

const pairKey = (x: string, y: string): string => `${x}\n${y}`;

function writersOfPairs(index: HistoryIndex): Map<string, DominanceIndex<Writer>> {
  const points = new Map<string, Point<Writer>[]>();
  for (const txn of index.committed) {
    for (const [x, onX] of txn.writes) {
      for (const [y, onY] of txn.writes) {
        if (x === y) continue;
        const point = { a: onX.maxVersion, b: onY.minVersion };
        const value = { txn: txn.id, seenVersion: point.a, missedVersion: point.b };
        const list = points.get(pairKey(x, y));
        if (list === undefined) points.set(pairKey(x, y), [{ ...point, value }]);
        else list.push({ ...point, value });
      }
    }
  }
  return new Map([...points].map(([pair, list]) => [pair, new DominanceIndex(list)]));
}

function fracturesOf(
  reader: IndexedTxn,
  writers: Map<string, DominanceIndex<Writer>>,
): { found: Anomaly[]; pairs: [string, string][] } {
  const first = new Map<string, { writer: Writer; seen: AccountReads; missed: AccountReads }>();
  const pairs: [string, string][] = [];
  for (const [x, seen] of reader.reads) {
    for (const [y, missed] of reader.reads) {
      if (x === y) continue;
      const hits = writers.get(pairKey(x, y))?.query(seen.maxVersion, missed.minVersion) ?? [];
      const others = hits.filter((w) => w.txn !== reader.id);
      if (others.length > 0) pairs.push([x, y]);
      for (const writer of others) {
        if (!first.has(writer.txn)) first.set(writer.txn, { writer, seen, missed });
      }
    }
  }
  const found = [...first.values()].map(({ writer, seen, missed }) =>
    finding(
      KIND,
      `${reader.id} saw ${writer.txn}'s write to ${accountName(seen.ref)} (read version ${seen.maxVersion} >= ${writer.seenVersion}) but not its write to ${accountName(missed.ref)} (read version ${missed.minVersion} < ${writer.missedVersion})`,
      [reader.id, writer.txn],
      [seen.ref, missed.ref],
    ),
  );
  return { found, pairs };
}

function unbalancedReads(
  index: HistoryIndex,
  set: ConservedSet,
  fracturedPairs: Map<string, [string, string][]>,
): Anomaly[] {
  const keys = new Set(set.accounts.map(accountKey));
  const total = BigInt(set.total);
  const found: Anomaly[] = [];
  for (const reader of index.committed) {
    let sum = 0n;
    let readAll = true;
    for (const key of keys) {
      const first = reader.reads.get(key)?.observed[0];
      if (first === undefined) readAll = false;
      else sum += first.balance;
    }
    if (!readAll || sum === total) continue;
    const explained = (fracturedPairs.get(reader.id) ?? []).some(
      ([x, y]) => keys.has(x) && keys.has(y),
    );
    if (explained) continue;
    found.push(
      finding(
        KIND,
        `${reader.id} read all of conserved set ${set.name} and it summed to ${sum}, not ${total}, with no recorded writer to blame`,
        [reader.id],
        set.accounts,
      ),
    );
  }
  return found;
}
