/**
 * Findings that mean the recorder (or the workload's bookkeeping) is broken, not the isolation:
 * the bank's versions only move up by one per committed write, from the initial state to the final
 * one, so a version outside that range, or a read of a state no committed write left, cannot
 * happen in a run. PostgreSQL shows no transaction another's uncommitted write, so even a
 * read of an aborted write's state counts here.
 */
import { finding, INVALID_HISTORY, type Anomaly } from "./anomaly-kinds.js";
import { accountName, type AccountRef } from "./history.js";
import { balanceAt, pushTo, type HistoryIndex, type IndexedTxn } from "./history-index.js";

/** How many transactions an undeclared-account finding names; the count says the rest. */
const NAMED_TXNS = 10;

export function findInvalidHistory(index: HistoryIndex): Anomaly[] {
  const found = [...undeclaredAccounts(index)];
  for (const txn of index.committed) found.push(...impossibleVersions(index, txn));
  return found;
}

function undeclaredAccounts(index: HistoryIndex): Anomaly[] {
  const found: Anomaly[] = [];
  const users = new Map<string, string[]>();
  for (const txn of index.committed) {
    for (const key of new Set([...txn.reads.keys(), ...txn.writes.keys()])) {
      if (!index.initial.has(key)) pushTo(users, key, txn.id);
    }
  }
  for (const [key, txns] of users) {
    const ref = index.refs.get(key) as AccountRef;
    const named = txns.slice(0, NAMED_TXNS);
    const more = txns.length > named.length ? ` (and ${txns.length - named.length} more)` : "";
    found.push(
      finding(
        INVALID_HISTORY,
        `${accountName(ref)} is not in the initial state, yet ${txns.length} committed transaction(s) touched it${more}`,
        named,
        [ref],
      ),
    );
  }
  for (const [key, ref] of index.refs) {
    const side = !index.initial.has(key) ? "initial" : !index.final.has(key) ? "final" : undefined;
    if (side === "final" || (side === "initial" && !users.has(key))) {
      found.push(
        finding(
          INVALID_HISTORY,
          `${accountName(ref)} is missing from the ${side} state`,
          [],
          [ref],
        ),
      );
    }
  }
  return found;
}

function impossibleVersions(index: HistoryIndex, txn: IndexedTxn): Anomaly[] {
  const found = new Map<string, Anomaly>();
  const bad = (ref: AccountRef, verb: string, detail: string): void => {
    const message = `${txn.id} ${verb} ${accountName(ref)} ${detail}`;
    found.set(message, finding(INVALID_HISTORY, message, [txn.id], [ref]));
  };
  for (const [key, w] of txn.writes) {
    const initial = index.initial.get(key)?.version ?? -Infinity;
    const final = index.final.get(key)?.version ?? Infinity;
    for (const v of w.versions) {
      if (v <= initial)
        bad(w.ref, "wrote", `at version ${v}, not after its initial version ${initial}`);
      if (v > final) bad(w.ref, "wrote", `at version ${v}, after its final version ${final}`);
    }
  }
  for (const [key, r] of txn.reads) {
    const initial = index.initial.get(key)?.version ?? -Infinity;
    const final = index.final.get(key)?.version ?? Infinity;
    for (const { version, balance } of r.observed) {
      const committed = balanceAt(index, key, version);
      if (version < initial) {
        bad(r.ref, "read", `at version ${version}, before its initial version ${initial}`);
      } else if (version > final) {
        bad(r.ref, "read", `at version ${version}, after its final version ${final}`);
      } else if (committed !== undefined && committed !== balance) {
        bad(
          r.ref,
          "read",
          `as ${balance} at version ${version}, where committed writes left ${committed}`,
        );
      }
    }
  }
  return [...found.values()];
}
