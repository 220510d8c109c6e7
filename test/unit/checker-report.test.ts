/** The checker's inputs and outputs for people: the client record file and the report formats. */
import { expect } from "chai";
import { ClientRecordError, parseClientRecord } from "../../scripts/checker/client-record.js";
import { checkInvariants } from "../../scripts/checker/invariants.js";
import { formatMarkdown, formatText } from "../../scripts/checker/report-format.js";

const T1 = "0190a6d2-6b1e-7c3a-9f00-000000000001";
const T2 = "0190a6d2-6b1e-7c3a-9f00-000000000002";

describe("checker client record", () => {
  it("reads one entry per line, skips blank lines and ignores extra fields", () => {
    const text = `{"txid":"${T1}","outcome":"committed","latencyMs":12}\n\n  \n{"txid":"${T2}","outcome":"unknown"}\n`;
    expect(parseClientRecord(text, "run.jsonl")).to.deep.equal([
      { txid: T1, outcome: "committed" },
      { txid: T2, outcome: "unknown" },
    ]);
  });

  it("names the line of a malformed entry", () => {
    const notJson = `{"txid":"${T1}","outcome":"committed"}\n\n{"txid":`;
    expect(() => parseClientRecord(notJson, "run.jsonl")).to.throw(
      ClientRecordError,
      /^run\.jsonl:3: not JSON/,
    );
    const badOutcome = `{"txid":"${T1}","outcome":"maybe"}`;
    expect(() => parseClientRecord(badOutcome, "run.jsonl")).to.throw(
      ClientRecordError,
      /^run\.jsonl:1: .*outcome/,
    );
    const badTxid = `{"txid":"T1","outcome":"committed"}`;
    expect(() => parseClientRecord(badTxid, "run.jsonl")).to.throw(
      ClientRecordError,
      /^run\.jsonl:1: .*txid/,
    );
  });
});

describe("checker report formats", () => {
  const broken = checkInvariants({
    banks: [
      {
        name: "bank-a",
        accounts: [{ id: "alice", balance: -5n }],
        ledger: [{ txid: null, account: "alice", delta: -5n, kind: "open" }],
        outcomes: new Map(),
        prepared: [],
      },
    ],
    records: new Map(),
    activeCounts: { undecided: 0, unacked: 0 },
  });

  it("text: one PASS or FAIL line per invariant, with the first violations", () => {
    const text = formatText(broken, "verify /tmp/c");
    expect(text).to.match(/^verify \/tmp\/c: FAILED I3\n/);
    expect(text).to.contain("PASS I2 conservation (1 accounts checked)");
    expect(text).to.contain("FAIL I3 no overdraft (1 violation; 1 accounts checked)");
    expect(text).to.contain("- bank-a: account alice has a negative balance -5");
  });

  it("markdown: a table of the invariants and the violations of each failing one", () => {
    const md = formatMarkdown(broken);
    expect(md).to.contain("| ❌ | I3 no overdraft | 1 accounts | 1 |");
    expect(md).to.contain("| ✅ | I1 atomicity |");
    expect(md).to.contain("### I3 no overdraft");
    expect(md).to.contain("- bank-a: account alice has a negative balance -5");
  });

  const withApplications = checkInvariants({
    banks: [],
    participants: [{ name: "inventory", outcomes: new Map(), prepared: [] }],
    applications: [
      {
        participant: "inventory",
        application: "inventory",
        checks: [
          { name: "no negative stock", holds: true, detail: "3 items" },
          { name: "stock accounted for", holds: false, detail: "item widget: stock 10" },
        ],
      },
    ],
    records: new Map(),
    activeCounts: { undecided: 0, unacked: 0 },
  });

  it("text: each application check on its own line, named by participant, what it checked when it holds", () => {
    const text = formatText(withApplications, "verify /tmp/c");
    expect(text).to.match(/^verify \/tmp\/c: FAILED inventory\/stock-accounted-for\n/);
    expect(text).to.contain(
      "PASS inventory/no-negative-stock no negative stock (inventory) (3 items)",
    );
    expect(text).to.contain("FAIL inventory/stock-accounted-for stock accounted for (inventory)");
    expect(text).to.contain("- inventory: stock accounted for: item widget: stock 10");
    expect(text).to.contain("participants 1 (banks 0)");
  });

  it("markdown: application checks are rows of the table too", () => {
    const md = formatMarkdown(withApplications);
    expect(md).to.contain(
      "| ✅ | inventory/no-negative-stock no negative stock (inventory) | 3 items | 0 |",
    );
    expect(md).to.contain("### inventory/stock-accounted-for stock accounted for (inventory)");
  });
});
