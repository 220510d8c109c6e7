/**
 * Non-repeatable reads: a committed transaction that read one account twice and saw two versions
 * another transaction made. A version the reader wrote itself does not count: reading your own
 * write after reading the state before it is what any isolation level shows.
 */
import { finding, type Anomaly } from "./anomaly-kinds.js";
import { accountName, type AccountRef } from "./history.js";
import type { HistoryIndex } from "./history-index.js";

export function findNonRepeatableReads(index: HistoryIndex): Anomaly[] {
  const found: Anomaly[] = [];
  for (const txn of index.committed) {
    const changed: { ref: AccountRef; versions: number[] }[] = [];
    for (const [key, read] of txn.reads) {
      if (read.minVersion === read.maxVersion) continue;
      const own = new Set(txn.writes.get(key)?.versions ?? []);
      const versions = read.observed.map((o) => o.version).filter((v) => !own.has(v));
      if (new Set(versions).size > 1) changed.push({ ref: read.ref, versions });
    }
    if (changed.length === 0) continue;
    const detail = changed
      .map((c) => `${accountName(c.ref)} at versions ${c.versions.join(", ")}`)
      .join("; ");
    found.push(
      finding(
        "non-repeatable-read",
        `${txn.id} read ${detail}`,
        [txn.id],
        changed.map((c) => c.ref),
      ),
    );
  }
  return found;
}
