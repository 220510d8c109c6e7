/**
 * Builds isolation histories for the anomaly checker's tests: a tiny serial bank that applies each
 * committed write at once, as the real banks do one version at a time, and records what a
 * transaction wrote and read. A test makes an anomaly by hand from observations taken at
 * different moments (`observe`) or effects the bank never applied in that order.
 */
import {
  accountKey,
  type AccountRef,
  type AccountState,
  type ConservedSet,
  type History,
  type HistoryTxn,
  type ReadEffect,
  type WriteEffect,
} from "../../scripts/isolation/history.js";

export const ref = (account: string, participant = "bank-a"): AccountRef => ({
  participant,
  account,
});

export interface OpenAccount {
  ref: AccountRef;
  balance: number;
  version?: number;
  customer?: string;
}

export class SerialBank {
  private readonly state = new Map<string, AccountState>();
  readonly initial: AccountState[];
  readonly txns: HistoryTxn[] = [];

  constructor(accounts: readonly OpenAccount[]) {
    this.initial = accounts.map((a) => ({
      ...a.ref,
      balance: String(a.balance),
      version: a.version ?? 0,
      ...(a.customer === undefined ? {} : { customer: a.customer }),
    }));
    for (const a of this.initial) this.state.set(accountKey(a), { ...a });
  }

  /** The accounts' current balances and versions, as a read now would see them. */
  observe(refs: readonly AccountRef[]): ReadEffect[] {
    return refs.map((r) => {
      const s = this.get(r);
      return { ...r, balance: s.balance, version: s.version };
    });
  }

  /** Applies the writes now, one version each, and returns their effects (records nothing). */
  apply(writes: readonly [AccountRef, number][]): WriteEffect[] {
    return writes.map(([r, delta]) => {
      const s = this.get(r);
      s.balance = String(BigInt(s.balance) + BigInt(delta));
      s.version += 1;
      return { ...r, delta: String(delta), version: s.version, balance: s.balance };
    });
  }

  /** A committed transaction that reads `reads` now, then applies `writes`. */
  commit(
    id: string,
    writes: readonly [AccountRef, number][],
    reads: readonly AccountRef[] = [],
    label = "transfer",
  ): HistoryTxn {
    const observed = this.observe(reads);
    return this.add({
      id,
      label,
      outcome: "committed",
      writes: this.apply(writes),
      reads: observed,
    });
  }

  /** A committed read-only transaction that reads `refs` now. */
  read(id: string, refs: readonly AccountRef[], label = "read"): HistoryTxn {
    return this.add({ id, label, outcome: "committed", writes: [], reads: this.observe(refs) });
  }

  add(txn: HistoryTxn): HistoryTxn {
    this.txns.push(txn);
    return txn;
  }

  history(conservedSets?: ConservedSet[]): History {
    const final = this.initial.map((a) => ({ ...this.get(a) }));
    return {
      initial: this.initial.map((a) => ({ ...a })),
      final,
      txns: [...this.txns],
      ...(conservedSets === undefined ? {} : { conservedSets }),
    };
  }

  private get(r: AccountRef): AccountState {
    const s = this.state.get(accountKey(r));
    if (s === undefined) throw new Error(`no account ${r.participant}:${r.account}`);
    return s;
  }
}
