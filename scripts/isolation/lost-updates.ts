/**
 * Lost updates: a committed write that did not build on the one before it. Each committed write
 * moves its account one version up and by its delta, so the writes to an account form a chain
 * from the initial state to the final one; a break in the chain is an update some other write
 * overwrote or never saw:
 * - two writes report the same post-write version;
 * - a write's post-write balance is not the previous version's balance plus its delta;
 * - two transactions read the same version of an account and then both wrote it (Adya's P4: the
 *   second wrote without seeing the first);
 * - the final state is not the initial one plus the committed writes (a change nobody committed
 *   or a committed change that vanished). With outcomes still unknown, an unknown transaction
 *   may explain the difference, so that is reported as indeterminate instead.
 */
import { finding, type Anomaly, type Indeterminate } from "./anomaly-kinds.js";
import { accountName, type AccountRef } from "./history.js";
import { pushTo, type HistoryIndex, type IndexedWrite } from "./history-index.js";

const KIND = "lost-update";

export function findLostUpdates(index: HistoryIndex): {
  anomalies: Anomaly[];
  indeterminate: Indeterminate[];
} {
  // Findings that name their transactions, by account.
  const named = new Map<string, Anomaly[]>();
  for (const [key, writes] of index.writesByAccount) {
    const ref = index.refs.get(key) as AccountRef;
    const found = [...sameVersion(ref, writes), ...brokenChain(index, key, ref, writes)];
    if (found.length > 0) named.set(key, found);
  }
  for (const [key, found] of readThenOverwritten(index)) {
    // The classic lost update (both read v, both wrote v+1) is also a same-version write: name it once.
    const before = named.get(key) ?? [];
    const fresh = found.filter((a) => !before.some((f) => a.txns.every((t) => f.txns.includes(t))));
    if (fresh.length > 0) named.set(key, [...before, ...fresh]);
  }
  // An account whose broken chain is named already needs no second finding from its final state.
  const { mismatched, indeterminate } = finalStates(index, new Set(named.keys()));
  return { anomalies: [...[...named.values()].flat(), ...mismatched], indeterminate };
}

/** Consecutive writes of equal version, grouped. */
function versionGroups(writes: readonly IndexedWrite[]): IndexedWrite[][] {
  const groups: IndexedWrite[][] = [];
  for (const w of writes) {
    const last = groups[groups.length - 1];
    if (last?.[0]?.version === w.version) last.push(w);
    else groups.push([w]);
  }
  return groups;
}

function sameVersion(ref: AccountRef, writes: readonly IndexedWrite[]): Anomaly[] {
  return versionGroups(writes)
    .filter((group) => new Set(group.map((w) => w.txn)).size > 1)
    .map((group) =>
      finding(
        KIND,
        `${group.map((w) => w.txn).join(", ")} all wrote ${accountName(ref)} to version ${group[0]?.version}: each overwrote a state without the others`,
        group.map((w) => w.txn),
        [ref],
      ),
    );
}

function brokenChain(
  index: HistoryIndex,
  key: string,
  ref: AccountRef,
  writes: readonly IndexedWrite[],
): Anomaly[] {
  const found: Anomaly[] = [];
  const initial = index.initial.get(key);
  let previous: { version: number; balance: bigint; txn?: string } | undefined =
    initial === undefined
      ? undefined
      : { version: initial.version, balance: BigInt(initial.balance) };
  for (const group of versionGroups(writes)) {
    // With two writers of one version the chain is ambiguous here; sameVersion names them.
    const w = group.length === 1 ? group[0] : undefined;
    if (w !== undefined && previous !== undefined && previous.version === w.version - 1) {
      if (previous.balance + w.delta !== w.balance) {
        const before = previous.txn === undefined ? "the initial state" : previous.txn;
        found.push(
          finding(
            KIND,
            `${w.txn} left ${accountName(ref)} at ${w.balance} (version ${w.version}) with delta ${w.delta}, but version ${previous.version} (${before}) had ${previous.balance}: it overwrote a state without that write`,
            previous.txn === undefined ? [w.txn] : [previous.txn, w.txn],
            [ref],
          ),
        );
      }
    }
    previous = w === undefined ? undefined : { version: w.version, balance: w.balance, txn: w.txn };
  }
  return found;
}

function readThenOverwritten(index: HistoryIndex): Map<string, Anomaly[]> {
  const readers = new Map<string, string[]>();
  for (const txn of index.committed) {
    for (const [key, mine] of txn.writes) {
      const read = txn.reads.get(key);
      if (read === undefined) continue;
      // Only versions read before the transaction's own write: after it, it reads itself.
      const before = new Set(
        read.observed.map((o) => o.version).filter((v) => v < mine.minVersion),
      );
      for (const v of before) pushTo(readers, JSON.stringify([key, v]), txn.id);
    }
  }
  const found = new Map<string, Anomaly[]>();
  for (const [at, txns] of readers) {
    if (txns.length < 2) continue;
    const [key, version] = JSON.parse(at) as [string, number];
    const ref = index.refs.get(key) as AccountRef;
    pushTo(
      found,
      key,
      finding(
        KIND,
        `${txns.join(", ")} all read ${accountName(ref)} at version ${version} and then wrote it: each wrote without seeing the others' writes`,
        txns,
        [ref],
      ),
    );
  }
  return found;
}

function finalStates(
  index: HistoryIndex,
  explained: ReadonlySet<string>,
): {
  mismatched: Anomaly[];
  indeterminate: Indeterminate[];
} {
  const mismatched: Anomaly[] = [];
  const indeterminate: Indeterminate[] = [];
  for (const [key, initial] of index.initial) {
    const final = index.final.get(key);
    if (final === undefined || explained.has(key)) continue; // invalid-history names a missing one
    const writes = index.writesByAccount.get(key) ?? [];
    const balance = writes.reduce((sum, w) => sum + w.delta, BigInt(initial.balance));
    const version = initial.version + writes.length;
    if (balance === BigInt(final.balance) && version === final.version) continue;
    const message = `${accountName(final)} ended at ${final.balance} (version ${final.version}), but the initial ${initial.balance} (version ${initial.version}) and its ${writes.length} committed write(s) make ${balance} (version ${version})`;
    if (index.unknownTxns.length === 0) mismatched.push(finding(KIND, message, [], [final]));
    else {
      indeterminate.push({
        message: `${message}; ${index.unknownTxns.length} transaction(s) of unknown outcome may explain it`,
        txns: [...index.unknownTxns],
        accounts: [{ participant: final.participant, account: final.account }],
      });
    }
  }
  return { mismatched, indeterminate };
}
