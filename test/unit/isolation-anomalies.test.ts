/**
 * The isolation anomaly checker over synthetic histories: a serial history shows nothing, and each
 * kind of anomaly is found with the transactions that make it, once.
 */
import { expect } from "chai";
import fc from "fast-check";
import {
  checkHistory,
  countByKind,
  kinds,
  type Anomaly,
  type FindingKind,
} from "../../scripts/isolation/anomalies.js";
import { formatAnomalyReport } from "../../scripts/isolation/anomaly-report.js";
import { parseHistory, type AccountRef, type History } from "../../scripts/isolation/history.js";
import { ref, SerialBank } from "../support/isolation-history.js";

const X = ref("x", "bank-a");
const Y = ref("y", "bank-b");
const Z = ref("z", "bank-b");
const CHECKING = ref("alice-checking", "bank-a");
const SAVINGS = ref("alice-savings", "bank-a");

function anomaliesOf(history: History): Anomaly[] {
  return checkHistory(history).anomalies;
}

function ofKind(history: History, kind: FindingKind): Anomaly[] {
  return anomaliesOf(history).filter((a) => a.kind === kind);
}

/** x at bank-a, y and z at bank-b, 100 each; money moves only among them. */
function threeAccounts(): SerialBank {
  return new SerialBank([
    { ref: X, balance: 100 },
    { ref: Y, balance: 100, version: 7 },
    { ref: Z, balance: 100 },
  ]);
}

const XYZ = [{ name: "xyz", accounts: [X, Y, Z], total: "300" }];

/** Alice's linked accounts at bank-a, 50 each: her total must stay >= 0. */
function alice(): SerialBank {
  return new SerialBank([
    { ref: CHECKING, balance: 50, customer: "alice" },
    { ref: SAVINGS, balance: 50, customer: "alice" },
    { ref: X, balance: 100 },
  ]);
}

/** Every (reader, writer) pair where the reader saw the writer on one account and not another. */
function bruteForceFractures(history: History): string[] {
  const pairs = new Set<string>();
  for (const r of history.txns) {
    for (const t of history.txns) {
      if (r === t) continue;
      for (const seen of r.reads) {
        for (const missed of r.reads) {
          const onSeen = t.writes.filter(
            (w) => w.account === seen.account && w.participant === seen.participant,
          );
          const onMissed = t.writes.filter(
            (w) => w.account === missed.account && w.participant === missed.participant,
          );
          if (onSeen.length === 0 || onMissed.length === 0 || seen.account === missed.account)
            continue;
          const sawAll = onSeen.every((w) => seen.version >= w.version);
          const missedAll = onMissed.every((w) => missed.version < w.version);
          if (sawAll && missedAll) pairs.add(`${r.id} ${t.id}`);
        }
      }
    }
  }
  return [...pairs];
}

describe("isolation anomalies: a serial history", () => {
  it("shows no anomaly of any kind, with transfers, reads, hold reads and linked debits", () => {
    const bank = alice();
    bank.commit("t1", [
      [CHECKING, -30],
      [X, 30],
    ]);
    const hold = bank.observe([CHECKING, SAVINGS, X]);
    bank.read("r1", [CHECKING, X, SAVINGS]);
    bank.commit(
      "t2",
      [
        [SAVINGS, -70],
        [X, 70],
      ],
      [CHECKING, SAVINGS],
      "linked-debit",
    );
    // The hold read saw everything before t2 twice: nothing changed between its reads.
    bank.add({
      id: "h1",
      label: "hold-read",
      outcome: "committed",
      writes: [],
      reads: [...hold, ...hold],
    });
    bank.commit(
      "t3",
      [
        [X, -100],
        [CHECKING, 100],
      ],
      [X],
    );
    bank.read("r2", [X, CHECKING, SAVINGS, X]);
    const history = bank.history([{ name: "all", accounts: [CHECKING, SAVINGS, X], total: "200" }]);
    expect(checkHistory(history)).to.deep.equal({ anomalies: [], indeterminate: [] });
  });

  it("shows none for any serial run of transfers and reads across banks (property)", () => {
    const accounts = [X, Y, Z, ref("w", "bank-c")];
    const op = fc.oneof(
      fc.record({
        from: fc.nat(3),
        to: fc.nat(3),
        amount: fc.integer({ min: 1, max: 50 }),
      }),
      fc.record({ read: fc.uniqueArray(fc.nat(3), { minLength: 1, maxLength: 4 }) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 40 }), (ops) => {
        const bank = new SerialBank(accounts.map((r) => ({ ref: r, balance: 100 })));
        ops.forEach((o, i) => {
          if ("read" in o)
            bank.read(
              `r${i}`,
              o.read.map((k) => accounts[k] ?? X),
            );
          else if (o.from !== o.to) {
            const from = accounts[o.from] ?? X;
            const to = accounts[o.to] ?? Y;
            bank.commit(
              `t${i}`,
              [
                [from, -o.amount],
                [to, o.amount],
              ],
              [from, to],
            );
          }
        });
        const total = { name: "all", accounts, total: "400" };
        expect(anomaliesOf(bank.history([total]))).to.deep.equal([]);
      }),
    );
  });

  it("ignores aborted transactions, even with writes that would clash", () => {
    const bank = threeAccounts();
    bank.commit("t1", [
      [X, -10],
      [Y, 10],
    ]);
    bank.add({
      id: "a1",
      label: "transfer",
      outcome: "aborted",
      writes: [{ ...X, delta: "5", version: 1, balance: "95" }],
      reads: [{ ...Y, balance: "0", version: 99 }],
    });
    expect(anomaliesOf(bank.history(XYZ))).to.deep.equal([]);
  });

  it("round-trips through JSON and the schema, and the schema refuses a fractional balance", () => {
    const bank = alice();
    bank.commit(
      "t1",
      [
        [CHECKING, -10],
        [X, 10],
      ],
      [CHECKING],
    );
    const history = bank.history([{ name: "all", accounts: [X], total: "100" }]);
    const saved = parseHistory(JSON.parse(JSON.stringify(history)));
    expect(saved).to.deep.equal(history);
    expect(() =>
      parseHistory({ ...history, initial: [{ ...X, balance: "1.5", version: 0 }] }),
    ).to.throw(/integer/);
  });
});

describe("isolation anomalies: lost updates", () => {
  it("finds two writes to the same version of an account, once (not again as a P4 or at the end)", () => {
    const bank = threeAccounts();
    const before = bank.observe([X]);
    bank.commit("t1", [[X, 10]], [X]);
    // t2 also read version 0 and wrote over it: the same post-version 1, t1's +10 is gone.
    bank.add({
      id: "t2",
      label: "transfer",
      outcome: "committed",
      writes: [{ ...X, delta: "-10", version: 1, balance: "90" }],
      reads: before,
    });
    const history = bank.history();
    history.final[0] = { ...X, balance: "90", version: 1 };
    const found = anomaliesOf(history);
    expect(found).to.have.length(1);
    expect(found[0]).to.include({ kind: "lost-update" });
    expect(found[0]?.txns).to.deep.equal(["t1", "t2"]);
    expect(found[0]?.accounts).to.deep.equal([X]);
  });

  it("finds a write whose balance did not build on the version before it", () => {
    const bank = threeAccounts();
    bank.commit("t1", [[X, 10]]); // x: 110 at version 1
    // t2 computed its balance from the initial 100 but the version moved on: 100 - 10, version 2.
    bank.add({
      id: "t2",
      label: "transfer",
      outcome: "committed",
      writes: [{ ...X, delta: "-10", version: 2, balance: "90" }],
      reads: [],
    });
    const history = bank.history();
    history.final[0] = { ...X, balance: "90", version: 2 };
    const found = anomaliesOf(history);
    expect(found.map((a) => [a.kind, a.txns])).to.deep.equal([["lost-update", ["t1", "t2"]]]);
  });

  it("finds two transactions that read one version and both wrote the account", () => {
    const bank = threeAccounts();
    const seen = bank.observe([X]);
    bank.add({
      id: "t1",
      label: "transfer",
      outcome: "committed",
      writes: bank.apply([[X, 5]]),
      reads: seen,
    });
    bank.add({
      id: "t2",
      label: "transfer",
      outcome: "committed",
      writes: bank.apply([[X, 5]]),
      reads: seen,
    });
    const lost = ofKind(bank.history(), "lost-update");
    expect(lost).to.have.length(1);
    expect(lost[0]?.txns).to.deep.equal(["t1", "t2"]);
  });

  it("does not count reading an account before and after writing it", () => {
    const bank = threeAccounts();
    const before = bank.observe([X]);
    const writes = bank.apply([[X, 5]]);
    bank.add({
      id: "t1",
      label: "transfer",
      outcome: "committed",
      writes,
      reads: [...before, ...bank.observe([X])],
    });
    expect(anomaliesOf(bank.history())).to.deep.equal([]);
  });

  it("finds a final state the committed writes do not explain", () => {
    const bank = threeAccounts();
    bank.commit("t1", [
      [X, -10],
      [Y, 10],
    ]);
    const history = bank.history();
    history.txns = []; // as if t1 committed but the recorder lost it
    const lost = ofKind(history, "lost-update");
    expect(lost.map((a) => a.accounts)).to.deep.equal([[X], [Y]]);
  });

  it("reports the final-state check as indeterminate, not an anomaly, with unknown outcomes", () => {
    const bank = threeAccounts();
    bank.apply([
      [X, -10],
      [Y, 10],
    ]); // u1 committed, but the client never learnt it
    bank.add({ id: "u1", label: "transfer", outcome: "unknown", writes: [], reads: [] });
    const result = checkHistory(bank.history());
    expect(result.anomalies).to.deep.equal([]);
    expect(result.indeterminate).to.have.length(2);
    expect(result.indeterminate[0]?.txns).to.deep.equal(["u1"]);
  });
});

describe("isolation anomalies: fractured reads", () => {
  it("finds a read that saw a writer on one account but not the other, naming both", () => {
    const bank = threeAccounts();
    const missedY = bank.observe([Y]);
    bank.commit("t1", [
      [X, -10],
      [Y, 10],
    ]);
    const sawXZ = bank.observe([X, Z]);
    bank.add({
      id: "r1",
      label: "read",
      outcome: "committed",
      writes: [],
      reads: [...sawXZ, ...missedY],
    });
    const fractured = ofKind(bank.history(XYZ), "fractured-read");
    expect(fractured).to.have.length(1); // the unbalanced sum is the same fracture
    expect(fractured[0]?.txns).to.deep.equal(["r1", "t1"]);
    expect(fractured[0]?.accounts).to.deep.equal([X, Y]);
    expect(anomaliesOf(bank.history(XYZ))).to.have.length(1);
  });

  it("finds it the other way round too, and once per writer", () => {
    const bank = threeAccounts();
    const missedX = bank.observe([X]);
    bank.commit("t1", [
      [X, -10],
      [Y, 10],
      [Z, 0],
    ]);
    bank.commit("t2", [
      [Y, -5],
      [X, 5],
    ]);
    const sawYZ = bank.observe([Y, Z]);
    bank.add({
      id: "r1",
      label: "read",
      outcome: "committed",
      writes: [],
      reads: [...missedX, ...sawYZ],
    });
    const fractured = ofKind(bank.history(), "fractured-read");
    expect(fractured.map((a) => a.txns)).to.deep.equal([
      ["r1", "t1"],
      ["r1", "t2"],
    ]);
  });

  it("finds exactly the (reader, writer) pairs a brute-force search finds (property)", () => {
    const accounts = [X, Y, Z, ref("w", "bank-c")];
    const step = fc.record({
      writes: fc.uniqueArray(fc.nat(3), { minLength: 1, maxLength: 3 }),
      // Each account read at its own earlier moment: a read at no isolation at all.
      reads: fc.uniqueArray(fc.tuple(fc.nat(3), fc.nat(20)), {
        maxLength: 4,
        selector: ([k]) => k,
      }),
    });
    fc.assert(
      fc.property(fc.array(step, { maxLength: 25 }), (steps) => {
        const bank = new SerialBank(accounts.map((r) => ({ ref: r, balance: 100 })));
        const moments = [bank.observe(accounts)];
        steps.forEach((s, i) => {
          bank.commit(
            `t${i}`,
            s.writes.map((k): [AccountRef, number] => [accounts[k] ?? X, 1 - k]),
          );
          moments.push(bank.observe(accounts));
          const reads = s.reads.map(
            ([k, back]) => moments[Math.max(0, moments.length - 1 - back)]?.[k],
          );
          bank.add({
            id: `r${i}`,
            label: "read",
            outcome: "committed",
            writes: [],
            reads: reads.filter((r) => r !== undefined),
          });
        });
        const history = bank.history();
        const found = ofKind(history, "fractured-read").map((a) => a.txns.join(" "));
        expect(found.sort()).to.deep.equal(bruteForceFractures(history).sort());
      }),
    );
  });

  it("does not report a read that saw both or neither of a writer's writes", () => {
    const bank = threeAccounts();
    const neither = bank.observe([X, Y]);
    bank.commit("t1", [
      [X, -10],
      [Y, 10],
    ]);
    bank.read("both", [Y, X]);
    bank.add({ id: "neither", label: "read", outcome: "committed", writes: [], reads: neither });
    bank.commit("t2", [
      [X, -10],
      [Y, 10],
    ]); // after both reads: newer than either saw
    expect(anomaliesOf(bank.history(XYZ))).to.deep.equal([]);
  });

  it("does not report hold reads that interleave with writers correctly", () => {
    const bank = threeAccounts();
    // A hold read holds x and y from its first read to its last: writers wait for it.
    const held = bank.observe([X, Y]);
    bank.add({
      id: "h1",
      label: "hold-read",
      outcome: "committed",
      writes: [],
      reads: [...held, ...held],
    });
    bank.commit("t1", [
      [X, -10],
      [Y, 10],
    ]);
    const after = bank.observe([Y, X]);
    bank.add({
      id: "h2",
      label: "hold-read",
      outcome: "committed",
      writes: [],
      reads: [...after, ...after],
    });
    bank.commit("t2", [
      [Y, -10],
      [Z, 10],
    ]);
    bank.read("h3", [X, Y, Z], "hold-read");
    expect(anomaliesOf(bank.history(XYZ))).to.deep.equal([]);
  });

  it("does not count a transaction's own writes as a fracture", () => {
    const bank = threeAccounts();
    const beforeY = bank.observe([Y]);
    const writes = bank.apply([
      [X, -10],
      [Y, 10],
    ]);
    const afterX = bank.observe([X]);
    bank.add({
      id: "t1",
      label: "transfer",
      outcome: "committed",
      writes,
      reads: [...afterX, ...beforeY],
    });
    expect(ofKind(bank.history(), "fractured-read")).to.deep.equal([]);
  });

  it("reports a conserved set that does not add up when no recorded writer explains it", () => {
    const bank = threeAccounts();
    const beforeY = bank.observe([Y]);
    bank.apply([
      [X, -10],
      [Y, 10],
    ]); // u1: committed, outcome unknown, effects unrecorded
    bank.add({ id: "u1", label: "transfer", outcome: "unknown", writes: [], reads: [] });
    const reads = [...bank.observe([X, Z]), ...beforeY];
    bank.add({ id: "r1", label: "read", outcome: "committed", writes: [], reads });
    const fractured = ofKind(bank.history(XYZ), "fractured-read");
    expect(fractured).to.have.length(1);
    expect(fractured[0]?.txns).to.deep.equal(["r1"]);
    expect(fractured[0]?.message).to.contain("summed to 290, not 300");
  });
});

describe("isolation anomalies: non-repeatable reads", () => {
  it("finds a transaction that read one account at two versions", () => {
    const bank = threeAccounts();
    const first = bank.observe([X, Y]);
    bank.commit("t1", [[X, 5]]);
    bank.add({
      id: "r1",
      label: "hold-read",
      outcome: "committed",
      writes: [],
      reads: [...first, ...bank.observe([X])],
    });
    const found = ofKind(bank.history(), "non-repeatable-read");
    expect(found).to.have.length(1);
    expect(found[0]?.txns).to.deep.equal(["r1"]);
    expect(found[0]?.accounts).to.deep.equal([X]);
    expect(countByKind(anomaliesOf(bank.history()))).to.deep.equal({
      "lost-update": 0,
      "fractured-read": 0,
      "non-repeatable-read": 1,
      "write-skew": 0,
    });
  });
});

describe("isolation anomalies: write skew", () => {
  it("finds two concurrent debits of one customer's linked accounts, as one anomaly naming both", () => {
    const bank = alice();
    // d1 saw alice's total of 100; d2 wrote, then checked and saw its own write but not d1's
    // (total 20). Each passed; together they leave -60.
    bank.commit("d1", [[CHECKING, -80]], [CHECKING, SAVINGS], "linked-debit");
    bank.add({
      id: "d2",
      label: "linked-debit",
      outcome: "committed",
      writes: bank.apply([[SAVINGS, -80]]),
      reads: [{ ...CHECKING, balance: "50", version: 0 }, ...bank.observe([SAVINGS])],
    });
    bank.read("r1", [CHECKING, SAVINGS]); // sees the negative total too: the same anomaly
    const history = bank.history();
    const skew = ofKind(history, "write-skew");
    expect(skew).to.have.length(1);
    expect(skew[0]?.txns).to.have.members(["d1", "d2"]);
    expect(skew[0]?.accounts).to.deep.equal([CHECKING, SAVINGS]);
    expect(countByKind(anomaliesOf(history))["write-skew"]).to.equal(1);
  });

  it("names only the debits after the last state known to be >= 0", () => {
    const bank = alice();
    bank.commit("d0", [[CHECKING, -10]], [], "linked-debit"); // total 90, fine
    bank.read("r0", [SAVINGS, CHECKING]); // known >= 0 here
    bank.commit("d1", [[CHECKING, -60]], [], "linked-debit");
    bank.commit("d2", [[SAVINGS, -60]], [], "linked-debit");
    const skew = ofKind(bank.history(), "write-skew");
    expect(skew).to.have.length(1);
    expect(skew[0]?.txns).to.have.members(["d1", "d2"]);
    expect(skew[0]?.message).to.contain("r0's read");
  });

  it("finds a negative total a read saw even when credits restored it before the end", () => {
    const bank = alice();
    bank.commit("d1", [[CHECKING, -80]], [], "linked-debit");
    bank.commit("d2", [[SAVINGS, -80]], [], "linked-debit");
    bank.read("r1", [CHECKING, SAVINGS]);
    bank.commit("c1", [
      [X, -100],
      [SAVINGS, 100],
    ]);
    const skew = ofKind(bank.history(), "write-skew");
    expect(skew.map((a) => a.txns)).to.deep.equal([["d1", "d2"]]);
  });

  it("is not fooled by a fractured read of a move between the linked accounts", () => {
    const bank = alice();
    const beforeSavings = bank.observe([SAVINGS]);
    // Alice moves 120 to savings: her total stays 100, but -70 + the old 50 looks like -20.
    bank.commit("m1", [
      [CHECKING, -120],
      [SAVINGS, 120],
    ]);
    const reads = [...bank.observe([CHECKING]), ...beforeSavings];
    bank.add({ id: "r1", label: "read", outcome: "committed", writes: [], reads });
    const found = anomaliesOf(bank.history());
    expect(found.map((a) => a.kind)).to.deep.equal(["fractured-read"]);
  });
});

describe("isolation anomalies: invalid histories and counts", () => {
  it("reports versions outside the run and undeclared accounts as invalid-history", () => {
    const bank = threeAccounts();
    bank.commit("t1", [[X, 10]]);
    bank.add({
      id: "t2",
      label: "transfer",
      outcome: "committed",
      writes: [{ ...Y, delta: "1", version: 7, balance: "101" }],
      reads: [
        { ...Z, balance: "100", version: -1 },
        { ...ref("ghost"), balance: "0", version: 1 },
      ],
    });
    const invalid = ofKind(bank.history(), "invalid-history");
    expect(invalid.map((a) => a.message).join("\n")).to.contain("not in the initial state");
    expect(invalid.some((a) => a.message.includes("not after its initial version 7"))).to.equal(
      true,
    );
    expect(anomaliesOf(bank.history())[0]?.kind).to.equal("invalid-history");
    expect(countByKind(anomaliesOf(bank.history()))).to.have.all.keys([...kinds]);
  });

  it("has every kind in countByKind, 0 when none", () => {
    expect(countByKind([])).to.deep.equal({
      "lost-update": 0,
      "fractured-read": 0,
      "non-repeatable-read": 0,
      "write-skew": 0,
    });
  });

  it("reports counts by kind and the first examples of each", () => {
    const bank = threeAccounts();
    const missedY = bank.observe([Y]);
    bank.commit("t1", [
      [X, -10],
      [Y, 10],
    ]);
    for (const id of ["r1", "r2", "r3", "r4"]) {
      bank.add({
        id,
        label: "read",
        outcome: "committed",
        writes: [],
        reads: [...bank.observe([X]), ...missedY],
      });
    }
    const text = formatAnomalyReport(checkHistory(bank.history()));
    expect(text).to.match(/^isolation anomalies: 4 found\n/);
    expect(text).to.contain("  fractured-read: 4\n");
    expect(text).to.contain("  write-skew: 0\n");
    expect(text).to.contain("fractured-read (first 3 of 4):");
    expect(text).to.contain("r3 saw t1's write to bank-a:x");
    expect(text).not.to.contain("r4 saw");
  });
});
