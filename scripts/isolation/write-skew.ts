/**
 * Write skew on linked accounts: a customer's accounts at one bank must together stay >= 0, and
 * each debit checks that, but two concurrent debits of different accounts can each check a state
 * without the other and both commit. The symptom is a customer total below zero in a state known
 * to have existed: the final state, or a committed read of all the customer's accounts that was
 * one snapshot (not a fractured read).
 *
 * The culprits are the committed debits between the last state known to be >= 0 that precedes the
 * negative one (per account, no newer version) and the negative state. Negative states with the
 * same last good state are one anomaly: the same debits broke the rule once.
 */
import { finding, INVALID_HISTORY, type Anomaly } from "./anomaly-kinds.js";
import { accountKey, type AccountRef, type AccountState } from "./history.js";
import { firstAfter, pushTo, type HistoryIndex } from "./history-index.js";

/** How many witnesses of a negative total a message names. */
const NAMED_WITNESSES = 3;

interface Customer {
  participant: string;
  customer: string;
  keys: string[];
  refs: AccountRef[];
}

/** A state of all of one customer's accounts, from the initial or final state or a read. */
interface CustomerState {
  source: string;
  versions: number[];
  versionSum: number;
  total: bigint;
}

export function findWriteSkew(
  index: HistoryIndex,
  initial: readonly AccountState[],
  fracturedPairs: Map<string, [string, string][]>,
): Anomaly[] {
  const found: Anomaly[] = [];
  for (const customer of customersOf(initial)) {
    const start = stateOf(customer, "the initial state", (key) => index.initial.get(key));
    if (start === undefined) continue;
    if (start.total < 0n) {
      const message = `customer ${customer.customer} at ${customer.participant} starts with total ${start.total}, below 0`;
      found.push(finding(INVALID_HISTORY, message, [], customer.refs));
      continue;
    }
    const states = observedStates(index, customer, fracturedPairs);
    const final = stateOf(customer, "the final state", (key) => index.final.get(key));
    if (final !== undefined) states.push(final);
    const good = [start, ...states.filter((s) => s.total >= 0n)].sort(
      (a, b) => a.versionSum - b.versionSum,
    );
    const goodSums = good.map((g) => ({ version: g.versionSum }));
    const byLastGood = new Map<CustomerState, CustomerState[]>();
    for (const state of states.filter((s) => s.total < 0n)) {
      pushTo(byLastGood, lastGoodBefore(good, goodSums, state) ?? start, state);
    }
    for (const [lastGood, negatives] of byLastGood) {
      found.push(skewAnomaly(index, customer, lastGood, negatives));
    }
  }
  return found;
}

function customersOf(initial: readonly AccountState[]): Customer[] {
  const customers = new Map<string, Customer>();
  for (const account of initial) {
    if (account.customer === undefined || account.customer === null || account.customer === "") {
      continue;
    }
    const id = JSON.stringify([account.participant, account.customer]);
    const customer = customers.get(id) ?? {
      participant: account.participant,
      customer: account.customer,
      keys: [],
      refs: [],
    };
    customer.keys.push(accountKey(account));
    customer.refs.push({ participant: account.participant, account: account.account });
    customers.set(id, customer);
  }
  return [...customers.values()];
}

function stateOf(
  customer: Customer,
  source: string,
  get: (key: string) => { version: number; balance: string | bigint } | undefined,
): CustomerState | undefined {
  const versions: number[] = [];
  let total = 0n;
  for (const key of customer.keys) {
    const account = get(key);
    if (account === undefined) return undefined;
    versions.push(account.version);
    total += BigInt(account.balance);
  }
  return { source, versions, versionSum: versions.reduce((a, b) => a + b, 0), total };
}

/**
 * Committed reads of every one of the customer's accounts that were one snapshot of them, by
 * transactions that did not write them.
 */
function observedStates(
  index: HistoryIndex,
  customer: Customer,
  fracturedPairs: Map<string, [string, string][]>,
): CustomerState[] {
  const keys = new Set(customer.keys);
  const states: CustomerState[] = [];
  for (const reader of index.committed) {
    if (!customer.keys.every((key) => reader.reads.has(key))) continue;
    const fractured = (fracturedPairs.get(reader.id) ?? []).some(
      ([x, y]) => keys.has(x) || keys.has(y),
    );
    // A debit that reads after its own write sees its own view, not a committed state: under
    // write skew that view (its write without the other debit's) is exactly what never existed.
    const wrote = customer.keys.some((key) => reader.writes.has(key));
    if (fractured || wrote) continue;
    const state = stateOf(
      customer,
      `${reader.id}'s read`,
      (key) => reader.reads.get(key)?.observed[0],
    );
    if (state !== undefined) states.push(state);
  }
  return states;
}

/**
 * The newest good state no newer than `state` on any account. `good` is sorted by version sum and
 * `goodSums` holds those sums: a state no newer on every account has no larger sum, so the search
 * starts there and usually stops at once.
 */
function lastGoodBefore(
  good: readonly CustomerState[],
  goodSums: readonly { version: number }[],
  state: CustomerState,
): CustomerState | undefined {
  let i = firstAfter(goodSums, state.versionSum);
  while (--i >= 0) {
    const candidate = good[i];
    if (candidate?.versions.every((v, k) => v <= (state.versions[k] ?? -Infinity)) === true) {
      return candidate;
    }
  }
  return undefined;
}

function skewAnomaly(
  index: HistoryIndex,
  customer: Customer,
  lastGood: CustomerState,
  negatives: readonly CustomerState[],
): Anomaly {
  const debits = new Set<string>();
  customer.keys.forEach((key, k) => {
    const writes = index.writesByAccount.get(key) ?? [];
    // reduce, not Math.max(...): a long run can have more negative reads than a call has arguments.
    const newest = negatives.reduce(
      (max, n) => Math.max(max, n.versions[k] ?? -Infinity),
      -Infinity,
    );
    const from = firstAfter(writes, lastGood.versions[k] ?? Infinity);
    for (const w of writes.slice(from, firstAfter(writes, newest))) {
      if (w.delta < 0n) debits.add(w.txn);
    }
  });
  const named = negatives.slice(0, NAMED_WITNESSES).map((n) => `${n.source} (${n.total})`);
  const more =
    negatives.length > named.length ? ` and ${negatives.length - named.length} more` : "";
  return finding(
    "write-skew",
    `customer ${customer.customer} at ${customer.participant} has a total below 0 in ${named.join(", ")}${more}; last known >= 0 in ${lastGood.source} (${lastGood.total}); debits since: ${[...debits].join(", ") || "none recorded"}`,
    [...debits],
    customer.refs,
  );
}
