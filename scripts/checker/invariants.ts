/**
 * The invariants of docs/design.md §5 (I1–I6), judged over gathered facts, and each application's
 * own invariants as its participants reported them (one entry per check, `<participant>/<check>`)
 * with I7, the conserved quantities summed over every participant. Pure: no I/O, no clock, so
 * every violation can be reproduced in a unit test from a handful of rows.
 *
 * The protocol invariants (I1, I4 to I6) rest on the framework's tables that every participant
 * has (outcome rows, prepared transactions), so they hold any application to them; I2 and I3, and
 * the ledger parts of I1 and I4, are the banks'. The facts of different participants are separate
 * snapshots: a transfer in flight can show its debit without its credit. The checker is meant for
 * a cluster at rest; I6 tells whether it was.
 */
import type { InvariantCheck } from "../../participant/framework/application.js";
import {
  clientTxids,
  CLIENT_OUTCOMES,
  describeDecision,
  expectedAppliers,
  indexFacts,
  parseGid,
  participantsOf,
  type ApplicationFacts,
  type BankFacts,
  type CheckInput,
  type FactIndex,
} from "./facts.js";

/** I1–I7, or `<participant>/<check>` for a check of a participant's application. */
export type InvariantId = "I1" | "I2" | "I3" | "I4" | "I5" | "I6" | "I7" | `${string}/${string}`;

export interface InvariantResult {
  id: InvariantId;
  name: string;
  ok: boolean;
  /** How many items were checked, and what they were (`subject`). */
  checked: number;
  subject: string;
  /** What an application's check says it checked (its entries only). */
  detail?: string;
  /** The first MAX_VIOLATIONS violations; `omitted` counts the rest. */
  violations: string[];
  omitted: number;
}

export interface Summary {
  /** Every participant, whatever its application. */
  participants: number;
  banks: number;
  accounts: number;
  ledgerEntries: number;
  committedTxids: number;
  abortedTxids: number;
  logRecords: number;
  /** Money as decimal strings of minor units, so the report is plain JSON. */
  totalBalance: string;
  totalOpened: string;
  prepared: number;
  undecided: number;
  unacked: number;
  clientRecord: Record<"committed" | "aborted" | "unknown" | "error", number> | undefined;
}

export interface Report {
  ok: boolean;
  invariants: InvariantResult[];
  summary: Summary;
}

export const MAX_VIOLATIONS = 20;

/** Collects violations up to a bound: a broken cluster can have millions, a report needs a few. */
class Violations {
  readonly list: string[] = [];
  omitted = 0;
  add(message: string): void {
    if (this.list.length < MAX_VIOLATIONS) this.list.push(message);
    else this.omitted++;
  }
}

type Check = (
  input: CheckInput,
  index: FactIndex,
  out: Violations,
) => { checked: number; subject: string };

const CHECKS: { id: InvariantId; name: string; run: Check }[] = [
  { id: "I1", name: "atomicity", run: checkAtomicity },
  { id: "I2", name: "conservation", run: checkConservation },
  { id: "I3", name: "no overdraft", run: checkNoOverdraft },
  { id: "I4", name: "durability", run: checkDurability },
  { id: "I5", name: "agreement", run: checkAgreement },
  { id: "I6", name: "liveness", run: checkLiveness },
];

export function checkInvariants(input: CheckInput): Report {
  const index = indexFacts(input);
  const invariants = CHECKS.map(({ id, name, run }) =>
    judge(id, name, (out) => run(input, index, out)),
  );
  if (input.applications) {
    const applications = input.applications;
    invariants.push(
      judge("I7", "conserved totals", (out) => checkConservedTotals(applications, out)),
      ...applications.flatMap(applicationResults),
    );
  }
  return { ok: invariants.every((i) => i.ok), invariants, summary: summarize(input, index) };
}

function judge(
  id: InvariantId,
  name: string,
  run: (out: Violations) => { checked: number; subject: string },
): InvariantResult {
  const out = new Violations();
  const { checked, subject } = run(out);
  return {
    id,
    name,
    ok: out.list.length === 0,
    checked,
    subject,
    violations: out.list,
    omitted: out.omitted,
  };
}

// ---- I1 atomicity: every participant applied a txid, or none did -------------------------

function checkAtomicity(input: CheckInput, index: FactIndex, out: Violations) {
  for (const [txid, committed] of index.committedAt) {
    const aborted = index.abortedAt.get(txid);
    if (aborted)
      out.add(
        `${txid}: committed at ${committed.join(", ")} but aborted (tombstone) at ${aborted.join(", ")}`,
      );
    const record = input.records.get(txid);
    if (!record) continue;
    // A bank holding a tombstone was reported just above; say it once.
    for (const p of expectedAppliers(record))
      if (!aborted?.includes(p))
        requireCommitted(index, txid, p, `committed at ${committed.join(", ")}`, out);
  }
  for (const bank of input.banks) checkLedgerOutcomes(bank, out);
  return {
    checked: new Set([...index.committedAt.keys(), ...index.abortedAt.keys()]).size,
    subject: "txids",
  };
}

/** Reports a participant that should hold a committed outcome row for txid and does not. */
function requireCommitted(
  index: FactIndex,
  txid: string,
  participant: string,
  why: string,
  out: Violations,
): boolean {
  const facts = index.participants.get(participant);
  if (!facts) {
    out.add(
      `${txid}: ${why}; its participant ${participant} is not a participant of this cluster, so it cannot be checked`,
    );
    return false;
  }
  const state = facts.outcomes.get(txid);
  if (state === "committed") return true;
  out.add(`${txid}: ${why}, but not committed at ${participant} (outcome row: ${state ?? "none"})`);
  return false;
}

/** A transfer entry is the data of a transaction: it must come with that bank's committed row. */
function checkLedgerOutcomes(bank: BankFacts, out: Violations): void {
  const reported = new Set<string>();
  for (const entry of bank.ledger) {
    if (entry.kind !== "transfer") continue;
    if (entry.txid === null) {
      out.add(
        `${bank.name}: transfer entry on account ${entry.account} (${signed(entry.delta)}) has no txid`,
      );
      continue;
    }
    const state = bank.outcomes.get(entry.txid);
    if (state === "committed" || reported.has(entry.txid)) continue;
    reported.add(entry.txid);
    out.add(
      `${entry.txid}: ${bank.name} has a ledger entry on account ${entry.account} (${signed(entry.delta)}) but no committed outcome row (found: ${state ?? "none"})`,
    );
  }
}

// ---- I2 conservation: money is created only by opening accounts ------------------------------

function checkConservation(input: CheckInput, _index: FactIndex, out: Violations) {
  const total = sum(input.banks.flatMap((b) => b.accounts.map((a) => a.balance)));
  const opened = sum(
    input.banks.flatMap((b) => b.ledger.filter((e) => e.kind === "open").map((e) => e.delta)),
  );
  if (total !== opened)
    out.add(
      `the total of all balances is ${total} but accounts were opened with ${opened} (${signed(total - opened)})`,
    );
  for (const bank of input.banks) checkAccountsMatchLedger(bank, out);
  checkTransfersNetZero(input.banks, out);
  return { checked: input.banks.reduce((n, b) => n + b.accounts.length, 0), subject: "accounts" };
}

/** Each balance is the sum of its ledger: a change without an entry (or the reverse) shows here. */
function checkAccountsMatchLedger(bank: BankFacts, out: Violations): void {
  const ledgerSums = new Map<string, bigint>();
  for (const e of bank.ledger)
    ledgerSums.set(e.account, (ledgerSums.get(e.account) ?? 0n) + e.delta);
  for (const account of bank.accounts) {
    const fromLedger = ledgerSums.get(account.id) ?? 0n;
    if (fromLedger !== account.balance)
      out.add(
        `${bank.name}: account ${account.id} has balance ${account.balance} but its ledger sums to ${fromLedger}`,
      );
    ledgerSums.delete(account.id);
  }
  for (const [account, delta] of ledgerSums)
    out.add(
      `${bank.name}: ledger entries (${signed(delta)}) name account ${account}, which does not exist`,
    );
}

/** A transfer moves money: its entries over all banks sum to zero, or it created or lost some. */
function checkTransfersNetZero(banks: readonly BankFacts[], out: Violations): void {
  const net = new Map<string, bigint>();
  for (const bank of banks) {
    for (const e of bank.ledger)
      if (e.kind === "transfer" && e.txid !== null)
        net.set(e.txid, (net.get(e.txid) ?? 0n) + e.delta);
  }
  for (const [txid, delta] of net) {
    if (delta !== 0n)
      out.add(
        `${txid}: its ledger entries over all banks sum to ${signed(delta)} (money ${delta > 0n ? "created" : "lost"})`,
      );
  }
}

// ---- I3 no overdraft ----------------------------------------------------------------------------

/**
 * An account of no customer is never negative; a linked one may be, as long as its customer's
 * accounts at that bank total at least zero (participant/bank/customer-total.ts).
 */
function checkNoOverdraft(input: CheckInput, _index: FactIndex, out: Violations) {
  for (const bank of input.banks) {
    const totals = new Map<string, bigint>();
    for (const a of bank.accounts) {
      if (a.customer) totals.set(a.customer, (totals.get(a.customer) ?? 0n) + a.balance);
      else if (a.balance < 0n)
        out.add(`${bank.name}: account ${a.id} has a negative balance ${a.balance}`);
    }
    for (const [customer, total] of totals)
      if (total < 0n) out.add(`${bank.name}: the accounts of customer ${customer} total ${total}`);
  }
  return { checked: input.banks.reduce((n, b) => n + b.accounts.length, 0), subject: "accounts" };
}

// ---- I4 durability: what a client heard as committed is applied everywhere -------------------

function checkDurability(input: CheckInput, index: FactIndex, out: Violations) {
  const committed = clientTxids(index, "committed");
  for (const txid of committed) {
    const record = input.records.get(txid);
    if (record?.decision !== "commit")
      out.add(
        `${txid}: the client was told committed, but the log's decision is ${describeDecision(record)}`,
      );
    if (!record) continue;
    for (const p of expectedAppliers(record)) {
      const applied = requireCommitted(index, txid, p, "the client was told committed", out);
      // A YES vote means the bank wrote something; for a bank that is always a ledger entry
      // (other applications check their own data against their outcome rows).
      if (
        applied &&
        record.votes[p] === "yes" &&
        index.banks.has(p) &&
        !index.ledgerTxids.get(p)?.has(txid)
      )
        out.add(`${txid}: committed at ${p}, but ${p}'s ledger has no entry for it`);
    }
  }
  return { checked: committed.length, subject: "client-committed txids" };
}

// ---- I5 agreement: each participant's outcome equals the log's decision ----------------------

function checkAgreement(input: CheckInput, index: FactIndex, out: Violations) {
  for (const [txid, banks] of index.committedAt) {
    const record = input.records.get(txid);
    if (record?.decision !== "commit")
      out.add(
        `${txid}: committed at ${banks.join(", ")}, but the log's decision is ${describeDecision(record)}`,
      );
  }
  for (const [txid, banks] of index.abortedAt) {
    if (input.records.get(txid)?.decision === "commit")
      out.add(
        `${txid}: aborted (tombstone) at ${banks.join(", ")}, but the log's decision is commit`,
      );
  }
  const aborted = clientTxids(index, "aborted");
  for (const txid of aborted) {
    const banks = index.committedAt.get(txid);
    if (banks)
      out.add(`${txid}: the client was told aborted, but it is committed at ${banks.join(", ")}`);
    if (input.records.get(txid)?.decision === "commit")
      out.add(`${txid}: the client was told aborted, but the log's decision is commit`);
  }
  const checked = new Set([...index.committedAt.keys(), ...index.abortedAt.keys(), ...aborted])
    .size;
  return { checked, subject: "txids" };
}

// ---- I6 liveness: nothing left prepared or undecided ----------------------------------------

function checkLiveness(input: CheckInput, _index: FactIndex, out: Violations) {
  const participants = participantsOf(input);
  for (const participant of participants) {
    for (const gid of participant.prepared) {
      const txid = parseGid(gid)?.txid;
      const decision =
        txid === undefined
          ? "not a Concord gid"
          : `the log's decision is ${describeDecision(input.records.get(txid))}`;
      out.add(
        `${participant.name}: prepared transaction ${gid} is still in pg_prepared_xacts; ${decision}`,
      );
    }
  }
  const { undecided, unacked } = input.activeCounts;
  if (undecided > 0)
    out.add(
      `the log has ${undecided} undecided transaction(s)${examples(input.activeTxids?.undecided)}`,
    );
  if (unacked > 0)
    out.add(
      `the log has ${unacked} decided transaction(s) not yet acknowledged by every participant${examples(input.activeTxids?.unacked)}`,
    );
  return { checked: participants.length, subject: "participants and the log" };
}

function examples(txids: string[] | undefined): string {
  return txids && txids.length > 0 ? `, such as ${txids.slice(0, 5).join(", ")}` : "";
}

// ---- I7 conserved totals, and each application's own checks ----------------------------------

/**
 * A conserved quantity (money) moves between participants, never made: summed over every
 * participant that reports it, what is present equals what entered from outside transactions.
 */
function checkConservedTotals(applications: readonly ApplicationFacts[], out: Violations) {
  const sums = new Map<string, { present: bigint; entered: bigint; from: string[] }>();
  for (const app of applications) {
    for (const check of app.checks) {
      for (const [quantity, t] of Object.entries(check.totals ?? {})) {
        const present = decimal(t.present);
        const entered = decimal(t.entered);
        if (present === undefined || entered === undefined) {
          out.add(
            `${app.participant}: ${quantity} totals are not decimal integers (present ${JSON.stringify(t.present)}, entered ${JSON.stringify(t.entered)})`,
          );
          continue;
        }
        const sum = sums.get(quantity) ?? { present: 0n, entered: 0n, from: [] };
        sum.present += present;
        sum.entered += entered;
        sum.from.push(app.participant);
        sums.set(quantity, sum);
      }
    }
  }
  for (const [quantity, { present, entered, from }] of sums) {
    if (present !== entered)
      out.add(
        `${quantity}: ${present} present over ${from.join(", ")}, but ${entered} entered (${signed(present - entered)})`,
      );
  }
  return { checked: sums.size, subject: "conserved quantities" };
}

function decimal(text: string): bigint | undefined {
  return /^-?[0-9]{1,40}$/.test(text) ? BigInt(text) : undefined;
}

/** One invariant per check the participant's application reported (or one saying it could not be asked). */
function applicationResults(app: ApplicationFacts): InvariantResult[] {
  if (app.error !== undefined)
    return [
      judge(`${app.participant}/invariants`, `its checks (${app.application})`, (out) => {
        out.add(`${app.participant}: could not get its invariant checks: ${app.error ?? ""}`);
        return { checked: 0, subject: "checks" };
      }),
    ];
  return app.checks.map((check: InvariantCheck) => ({
    ...judge(
      `${app.participant}/${slug(check.name)}`,
      `${check.name} (${app.application})`,
      (out) => {
        if (!check.holds) out.add(`${app.participant}: ${check.name}: ${check.detail}`);
        return { checked: 1, subject: "check" };
      },
    ),
    // Said once: a check that fails says it in its violation.
    ...(check.holds ? { detail: check.detail } : {}),
  }));
}

function slug(name: string): string {
  return (
    name
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, "-")
      .replace(/^-|-$/g, "") || "check"
  );
}

// ---- summary ------------------------------------------------------------------------------------

function summarize(input: CheckInput, index: FactIndex): Summary {
  const accounts = input.banks.flatMap((b) => b.accounts);
  const ledger = input.banks.flatMap((b) => b.ledger);
  const participants = participantsOf(input);
  return {
    participants: participants.length,
    banks: input.banks.length,
    accounts: accounts.length,
    ledgerEntries: ledger.length,
    committedTxids: index.committedAt.size,
    abortedTxids: index.abortedAt.size,
    logRecords: input.records.size,
    totalBalance: String(sum(accounts.map((a) => a.balance))),
    totalOpened: String(sum(ledger.filter((e) => e.kind === "open").map((e) => e.delta))),
    prepared: participants.reduce((n, p) => n + p.prepared.length, 0),
    undecided: input.activeCounts.undecided,
    unacked: input.activeCounts.unacked,
    clientRecord: input.clientRecord ? countClientOutcomes(input) : undefined,
  };
}

function countClientOutcomes(input: CheckInput): Summary["clientRecord"] {
  const counts = Object.fromEntries(CLIENT_OUTCOMES.map((o) => [o, 0])) as NonNullable<
    Summary["clientRecord"]
  >;
  for (const entry of input.clientRecord ?? []) counts[entry.outcome]++;
  return counts;
}

function sum(values: readonly bigint[]): bigint {
  return values.reduce((a, b) => a + b, 0n);
}

function signed(n: bigint): string {
  return n > 0n ? `+${n}` : String(n);
}
