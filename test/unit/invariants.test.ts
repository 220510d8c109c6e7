/**
 * The checker's invariants (docs/design.md §5) over hand-made facts: a consistent cluster passes
 * every one, and each broken property is caught by its invariant, which names the txid, account
 * or gid at fault.
 */
import { expect } from "chai";
import {
  txidsToLookUp,
  type ApplicationFacts,
  type BankFacts,
  type CheckInput,
  type LogFacts,
  type ParticipantFacts,
} from "../../scripts/checker/facts.js";
import {
  checkInvariants,
  MAX_VIOLATIONS,
  type InvariantId,
  type Report,
} from "../../scripts/checker/invariants.js";

const T1 = "0190a6d2-6b1e-7c3a-9f00-000000000001"; // alice@bank-a -> bob@bank-b, committed
const T2 = "0190a6d2-6b1e-7c3a-9f00-000000000002"; // bank-a voted no: aborted at both
const T3 = "0190a6d2-6b1e-7c3a-9f00-000000000003"; // alice -> carol inside bank-a, bank-b only read
const T4 = "0190a6d2-6b1e-7c3a-9f00-000000000004"; // bank-a held read + inventory reserve, committed
const TX = "0190a6d2-6b1e-7c3a-9f00-0000000000ff"; // the transaction each test breaks

function record(
  participants: string[],
  decision: LogFacts["decision"],
  votes: LogFacts["votes"] = {},
): LogFacts {
  const state =
    decision === "commit" ? "committed" : decision === "abort" ? "aborted" : "preparing";
  return { participants, decision, state, votes, presumed: false };
}

/** Two banks at rest after T1–T3: total 1500, opened with 1500, nothing in flight. */
function consistent(): CheckInput {
  const bankA: BankFacts = {
    name: "bank-a",
    accounts: [
      { id: "alice", balance: 700n },
      { id: "carol", balance: 200n },
    ],
    ledger: [
      { txid: null, account: "alice", delta: 1000n, kind: "open" },
      { txid: null, account: "carol", delta: 0n, kind: "open" },
      { txid: T1, account: "alice", delta: -100n, kind: "transfer" },
      { txid: T3, account: "alice", delta: -200n, kind: "transfer" },
      { txid: T3, account: "carol", delta: 200n, kind: "transfer" },
    ],
    outcomes: new Map([
      [T1, "committed"],
      [T2, "aborted"],
      [T3, "committed"],
    ]),
    prepared: [],
  };
  const bankB: BankFacts = {
    name: "bank-b",
    accounts: [{ id: "bob", balance: 600n }],
    ledger: [
      { txid: null, account: "bob", delta: 500n, kind: "open" },
      { txid: T1, account: "bob", delta: 100n, kind: "transfer" },
    ],
    // bank-b voted read-only in T3, so it has no outcome row for it.
    outcomes: new Map([
      [T1, "committed"],
      [T2, "aborted"],
    ]),
    prepared: [],
  };
  return {
    banks: [bankA, bankB],
    records: new Map([
      [T1, record(["bank-a", "bank-b"], "commit", { "bank-a": "yes", "bank-b": "yes" })],
      [T2, record(["bank-a", "bank-b"], "abort", { "bank-a": "no", "bank-b": "yes" })],
      [T3, record(["bank-a", "bank-b"], "commit", { "bank-a": "yes", "bank-b": "read-only" })],
    ]),
    activeCounts: { undecided: 0, unacked: 0 },
    clientRecord: [
      { txid: T1, outcome: "committed" },
      { txid: T2, outcome: "aborted" },
      { txid: T3, outcome: "committed" },
    ],
  };
}

const bank = (input: CheckInput, name: string): BankFacts => {
  const found = input.banks.find((b) => b.name === name);
  if (!found) throw new Error(`no bank ${name} in the facts`);
  return found;
};

/** Applies a committed transfer entry: the balance and the ledger move together. */
function apply(
  input: CheckInput,
  bankName: string,
  account: string,
  delta: bigint,
  txid = TX,
): void {
  const b = bank(input, bankName);
  const acct = b.accounts.find((a) => a.id === account);
  if (!acct) throw new Error(`no account ${account} at ${bankName}`);
  acct.balance += delta;
  b.ledger.push({ txid, account, delta, kind: "transfer" });
}

/**
 * The consistent cluster with an inventory besides the banks: T4 committed at bank-a (a held
 * read, so no ledger entry) and at the inventory; every participant's application checks hold,
 * and the banks' money totals balance.
 */
function withInventory(): CheckInput & {
  participants: ParticipantFacts[];
  applications: ApplicationFacts[];
} {
  const input = consistent();
  bank(input, "bank-a").outcomes.set(T4, "committed");
  const inventory: ParticipantFacts = {
    name: "inventory",
    outcomes: new Map([[T4, "committed"]]),
    prepared: [],
  };
  input.records.set(
    T4,
    record(["bank-a", "inventory"], "commit", { "bank-a": "yes", inventory: "yes" }),
  );
  const holds = (name: string, totals?: ApplicationFacts["checks"][number]["totals"]) => ({
    name,
    holds: true,
    detail: "fine",
    ...(totals ? { totals } : {}),
  });
  return {
    ...input,
    participants: [...input.banks, inventory],
    applications: [
      {
        participant: "bank-a",
        application: "bank",
        checks: [holds("money totals", { money: { present: "900", entered: "1000" } })],
      },
      {
        participant: "bank-b",
        application: "bank",
        checks: [holds("money totals", { money: { present: "600", entered: "500" } })],
      },
      {
        participant: "inventory",
        application: "inventory",
        checks: [holds("stock accounted for"), holds("no negative stock")],
      },
    ],
  };
}

const participant = (input: { participants: ParticipantFacts[] }, name: string) => {
  const found = input.participants.find((p) => p.name === name);
  if (!found) throw new Error(`no participant ${name} in the facts`);
  return found;
};

const failing = (report: Report): InvariantId[] =>
  report.invariants.filter((i) => !i.ok).map((i) => i.id);

function violationsOf(report: Report, id: InvariantId): string {
  const inv = report.invariants.find((i) => i.id === id);
  if (!inv) throw new Error(`no ${id} in the report`);
  return inv.violations.join("\n");
}

describe("checker invariants", () => {
  it("a consistent cluster at rest passes every invariant", () => {
    const report = checkInvariants(consistent());
    expect(failing(report)).to.deep.equal([]);
    expect(report.ok).to.equal(true);
    expect(report.invariants.map((i) => i.id)).to.deep.equal(["I1", "I2", "I3", "I4", "I5", "I6"]);
    expect(report.summary).to.include({
      banks: 2,
      accounts: 3,
      totalBalance: "1500",
      totalOpened: "1500",
      committedTxids: 2,
      abortedTxids: 1,
      prepared: 0,
    });
    expect(report.summary.clientRecord).to.deep.equal({
      committed: 2,
      aborted: 1,
      unknown: 0,
      error: 0,
    });
  });

  it("I1: a txid committed at one bank and tombstoned at another breaks atomicity", () => {
    const input = consistent();
    apply(input, "bank-a", "alice", -10n);
    apply(input, "bank-a", "carol", 10n);
    bank(input, "bank-a").outcomes.set(TX, "committed");
    bank(input, "bank-b").outcomes.set(TX, "aborted");
    input.records.set(
      TX,
      record(["bank-a", "bank-b"], "commit", { "bank-a": "yes", "bank-b": "yes" }),
    );
    const report = checkInvariants(input);
    // Whatever the log decided, one of the two banks disagrees with it: I5 fails as well.
    expect(failing(report)).to.deep.equal(["I1", "I5"]);
    expect(violationsOf(report, "I1"))
      .to.contain(TX)
      .and.to.contain("tombstone")
      .and.to.contain("bank-b");
  });

  it("I1: ledger entries without a committed outcome row at that bank break atomicity", () => {
    const input = consistent();
    apply(input, "bank-a", "alice", -5n);
    apply(input, "bank-a", "carol", 5n);
    const report = checkInvariants(input);
    expect(failing(report)).to.deep.equal(["I1"]);
    expect(violationsOf(report, "I1")).to.contain(TX).and.to.contain("no committed outcome row");
  });

  it("I2: a transfer entry that credits without a matching debit creates money", () => {
    const input = consistent();
    apply(input, "bank-b", "bob", 1000n);
    bank(input, "bank-b").outcomes.set(TX, "committed");
    input.records.set(TX, record(["bank-b"], "commit"));
    const report = checkInvariants(input);
    expect(failing(report)).to.deep.equal(["I2"]);
    expect(violationsOf(report, "I2"))
      .to.contain(TX)
      .and.to.contain("money created")
      .and.to.contain("2500");
  });

  it("I2: a balance that moved without a ledger entry breaks conservation and names the account", () => {
    const input = consistent();
    const bob = bank(input, "bank-b").accounts[0];
    if (bob) bob.balance += 1n;
    const report = checkInvariants(input);
    expect(failing(report)).to.deep.equal(["I2"]);
    expect(violationsOf(report, "I2")).to.contain(
      "bank-b: account bob has balance 601 but its ledger sums to 600",
    );
  });

  it("I3: a negative balance is an overdraft and names the account", () => {
    const input = consistent();
    apply(input, "bank-a", "carol", -300n);
    apply(input, "bank-a", "alice", 300n);
    bank(input, "bank-a").outcomes.set(TX, "committed");
    input.records.set(TX, record(["bank-a"], "commit"));
    const report = checkInvariants(input);
    expect(failing(report)).to.deep.equal(["I3"]);
    expect(violationsOf(report, "I3")).to.contain(
      "bank-a: account carol has a negative balance -100",
    );
  });

  it("I3: a linked account may be overdrawn while its customer's total at the bank is not", () => {
    const input = consistent();
    const a = bank(input, "bank-a");
    for (const acc of a.accounts) acc.customer = "alice-co";
    apply(input, "bank-a", "carol", -300n);
    apply(input, "bank-a", "alice", 300n);
    a.outcomes.set(TX, "committed");
    input.records.set(TX, record(["bank-a"], "commit"));
    // carol is at -100, alice at 1000: the customer's total, 900, covers it.
    expect(failing(checkInvariants(input))).to.deep.equal([]);
    // Money out of the customer's accounts (to bob at bank-b) takes the total below zero.
    apply(input, "bank-a", "alice", -1000n);
    apply(input, "bank-b", "bob", 1000n);
    bank(input, "bank-b").outcomes.set(TX, "committed");
    input.records.set(TX, record(["bank-a", "bank-b"], "commit"));
    const report = checkInvariants(input);
    expect(failing(report)).to.deep.equal(["I3"]);
    expect(violationsOf(report, "I3")).to.contain(
      "bank-a: the accounts of customer alice-co total -100",
    );
    expect(violationsOf(report, "I3")).not.to.contain("negative balance");
  });

  it("I4: a txid the client heard committed that is missing at a bank breaks durability", () => {
    const input = consistent();
    apply(input, "bank-a", "alice", -10n);
    apply(input, "bank-a", "carol", 10n);
    bank(input, "bank-a").outcomes.set(TX, "committed");
    input.records.set(
      TX,
      record(["bank-a", "bank-b"], "commit", { "bank-a": "yes", "bank-b": "yes" }),
    );
    input.clientRecord?.push({ txid: TX, outcome: "committed" });
    const report = checkInvariants(input);
    // Committed at bank-a only is also an atomicity failure.
    expect(failing(report)).to.deep.equal(["I1", "I4"]);
    expect(violationsOf(report, "I4")).to.contain(TX).and.to.contain("not committed at bank-b");
  });

  it("I4: a txid the client heard committed whose decision is not in the log breaks durability", () => {
    const input = consistent();
    input.clientRecord?.push({ txid: TX, outcome: "committed" });
    const report = checkInvariants(input);
    expect(failing(report)).to.deep.equal(["I4"]);
    expect(violationsOf(report, "I4")).to.contain(TX).and.to.contain("no log record");
  });

  it("I5: a committed outcome while the log says abort breaks agreement", () => {
    const input = consistent();
    apply(input, "bank-a", "alice", -10n);
    apply(input, "bank-b", "bob", 10n);
    bank(input, "bank-a").outcomes.set(TX, "committed");
    bank(input, "bank-b").outcomes.set(TX, "committed");
    input.records.set(
      TX,
      record(["bank-a", "bank-b"], "abort", { "bank-a": "yes", "bank-b": "yes" }),
    );
    const report = checkInvariants(input);
    expect(failing(report)).to.deep.equal(["I5"]);
    expect(violationsOf(report, "I5")).to.contain(TX).and.to.contain("the log's decision is abort");
  });

  it("I5: a client told aborted for a txid the banks committed breaks agreement", () => {
    const input = consistent();
    input.clientRecord?.push({ txid: T1, outcome: "aborted" });
    const report = checkInvariants(input);
    expect(failing(report)).to.deep.equal(["I5"]);
    expect(violationsOf(report, "I5")).to.contain(T1).and.to.contain("told aborted");
  });

  it("I6: a prepared transaction left in PostgreSQL breaks liveness and names the gid", () => {
    const input = consistent();
    const gid = `concord:bank-b:${TX}`;
    bank(input, "bank-b").prepared.push(gid);
    input.records.set(
      TX,
      record(["bank-a", "bank-b"], "abort", { "bank-a": "no", "bank-b": "yes" }),
    );
    const report = checkInvariants(input);
    expect(failing(report)).to.deep.equal(["I6"]);
    expect(violationsOf(report, "I6"))
      .to.contain(gid)
      .and.to.contain("the log's decision is abort");
  });

  it("I6: an undecided transaction in the log breaks liveness", () => {
    const input = consistent();
    input.activeCounts = { undecided: 1, unacked: 0 };
    input.activeTxids = { undecided: [TX], unacked: [] };
    const report = checkInvariants(input);
    expect(failing(report)).to.deep.equal(["I6"]);
    expect(violationsOf(report, "I6")).to.contain("1 undecided").and.to.contain(TX);
  });

  it("caps the violations of one invariant and counts the rest", () => {
    const input = consistent();
    const b = bank(input, "bank-b");
    for (let i = 0; i < MAX_VIOLATIONS + 5; i++) {
      b.accounts.push({ id: `neg-${i}`, balance: -1n });
      b.ledger.push({ txid: null, account: `neg-${i}`, delta: -1n, kind: "open" });
    }
    const i3 = checkInvariants(input).invariants.find((i) => i.id === "I3");
    expect(i3?.violations).to.have.length(MAX_VIOLATIONS);
    expect(i3?.omitted).to.equal(5);
  });

  it("looks up the log records of every txid the facts mention", () => {
    const input = consistent();
    bank(input, "bank-b").prepared.push(`concord:bank-b:${TX}`, "someone-elses-gid");
    const txids = txidsToLookUp(input.banks, [
      { txid: "0190a6d2-6b1e-7c3a-9f00-0000000000aa", outcome: "unknown" },
    ]);
    expect(txids).to.have.members([T1, T2, T3, TX, "0190a6d2-6b1e-7c3a-9f00-0000000000aa"]);
  });

  it("holds a participant that is not a bank to the protocol invariants on its outcome rows, and runs its application's checks", () => {
    const report = checkInvariants(withInventory());
    expect(failing(report)).to.deep.equal([]);
    expect(report.invariants.map((i) => i.id)).to.deep.equal([
      "I1",
      "I2",
      "I3",
      "I4",
      "I5",
      "I6",
      "I7",
      "bank-a/money-totals",
      "bank-b/money-totals",
      "inventory/stock-accounted-for",
      "inventory/no-negative-stock",
    ]);
    expect(report.summary).to.include({ participants: 3, banks: 2, committedTxids: 3 });
  });

  it("I1: a txid committed at a bank and tombstoned at the inventory breaks atomicity, naming the inventory", () => {
    const input = withInventory();
    participant(input, "inventory").outcomes.set(T4, "aborted");
    const report = checkInvariants(input);
    // The tombstone also disagrees with the log's commit.
    expect(failing(report)).to.deep.equal(["I1", "I5"]);
    expect(violationsOf(report, "I1"))
      .to.contain(T4)
      .and.to.contain("aborted (tombstone) at inventory");
  });

  it("I4: a txid the client heard committed that the inventory never committed breaks durability", () => {
    const input = withInventory();
    participant(input, "inventory").outcomes.delete(T4);
    input.clientRecord = [...(input.clientRecord ?? []), { txid: T4, outcome: "committed" }];
    const report = checkInvariants(input);
    expect(failing(report)).to.include("I4");
    expect(violationsOf(report, "I4"))
      .to.contain("not committed at inventory")
      .and.not.to.contain("not a participant");
  });

  it("I6: a prepared transaction left at the inventory breaks liveness", () => {
    const input = withInventory();
    const gid = `concord:inventory:${TX}`;
    participant(input, "inventory").prepared.push(gid);
    input.records.set(TX, record(["bank-a", "inventory"], "abort"));
    const report = checkInvariants(input);
    expect(failing(report)).to.deep.equal(["I6"]);
    expect(violationsOf(report, "I6")).to.contain(`inventory: prepared transaction ${gid}`);
  });

  it("names a participant that the facts do not have, rather than calling it not a bank", () => {
    const input = withInventory();
    input.records.set(
      T4,
      record(["bank-a", "elsewhere"], "commit", { "bank-a": "yes", elsewhere: "yes" }),
    );
    expect(violationsOf(checkInvariants(input), "I1")).to.contain(
      "elsewhere is not a participant of this cluster",
    );
  });

  it("an application check that does not hold fails the report in its own entry, with its detail", () => {
    const input = withInventory();
    const inventory = input.applications.find((a) => a.participant === "inventory");
    const check = inventory?.checks[0];
    if (!check) throw new Error("no inventory check");
    Object.assign(check, { holds: false, detail: "item widget: stock 10 + sold 2 = 12, but 5" });
    const report = checkInvariants(input);
    expect(report.ok).to.equal(false);
    expect(failing(report)).to.deep.equal(["inventory/stock-accounted-for"]);
    expect(violationsOf(report, "inventory/stock-accounted-for")).to.contain("item widget");
  });

  it("a participant whose checks cannot be had fails an entry that says so", () => {
    const input = withInventory();
    input.applications.push({
      participant: "bank-c",
      application: "bank",
      checks: [],
      error: "connect ECONNREFUSED",
    });
    const report = checkInvariants(input);
    expect(failing(report)).to.deep.equal(["bank-c/invariants"]);
    expect(violationsOf(report, "bank-c/invariants")).to.contain("ECONNREFUSED");
  });

  it("I7: money summed over every participant that reports it must be what entered, not each bank's alone", () => {
    const input = withInventory();
    const bankB = input.applications.find((a) => a.participant === "bank-b")?.checks[0];
    if (!bankB) throw new Error("no bank-b check");
    bankB.totals = { money: { present: "601", entered: "500" } };
    const report = checkInvariants(input);
    expect(failing(report)).to.deep.equal(["I7"]);
    expect(violationsOf(report, "I7")).to.contain(
      "money: 1501 present over bank-a, bank-b, but 1500 entered (+1)",
    );
  });

  it("looks up the log records of the txids every participant mentions, not only the banks", () => {
    const input = withInventory();
    participant(input, "inventory").prepared.push(`concord:inventory:${TX}`);
    expect(txidsToLookUp(input.participants)).to.have.members([T1, T2, T3, T4, TX]);
  });
});
