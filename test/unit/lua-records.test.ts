/**
 * Records the Lua scripts write are validated when read (durable-log.ts parseRecord): every
 * field a script writes parses to its typed value, and a field or value no script writes is
 * reported as a CorruptRecordError naming the txid, the field and the value.
 */
import { expect } from "chai";
import { CorruptRecordError, parseRecord } from "../../shared/durable-log.js";

const txid = "0190a6d2-6b1e-7c3a-9f00-2c5e1a7b8d90";
const other = "0190a6d2-6b1f-7c3a-9f00-2c5e1a7b8d91";

/** A record as begin-4.lua, record-vote-3.lua, decide-presume-4.lua, ack-3.lua and end-4.lua leave it. */
const ended = {
  txid,
  participants: '["bank-a","bank-b"]',
  timeoutMs: "5000",
  onePhase: "0",
  idempotencyKey: "order-17",
  state: "committed",
  createdAt: "1717000000000",
  deadlineAt: "1717000005000",
  beginToken: "5f0c6b1e-8d3a-4c2b-9f00-2c5e1a7b8d90",
  client: "shop",
  series: other,
  attempt: "2",
  previous: other,
  decision: "commit",
  reason: "all voted yes",
  decidedBy: "engine",
  decidedAt: "1717000000100",
  "vote:bank-a": "yes",
  "vote:bank-b": "read-only",
  "ack:bank-a": "1717000000200",
  endedAt: "1717000000300",
  next: other,
};

function corruption(h: Record<string, string>): CorruptRecordError {
  try {
    parseRecord(txid, h);
  } catch (err) {
    expect(err).to.be.instanceOf(CorruptRecordError);
    return err as CorruptRecordError;
  }
  throw new Error("expected a CorruptRecordError");
}

describe("records of the durable log, when read", () => {
  it("parse every field the scripts write to its typed value", () => {
    expect(parseRecord(txid, ended)).to.deep.equal({
      txid,
      state: "committed",
      participants: ["bank-a", "bank-b"],
      onePhase: false,
      timeoutMs: 5000,
      createdAtMs: 1717000000000,
      deadlineAtMs: 1717000005000,
      decision: "commit",
      reason: "all voted yes",
      decidedBy: "engine",
      decidedAtMs: 1717000000100,
      endedAtMs: 1717000000300,
      presumed: false,
      idempotencyKey: "order-17",
      client: "shop",
      series: other,
      attempt: 2,
      previous: other,
      next: other,
      votes: { "bank-a": "yes", "bank-b": "read-only" },
      acks: { "bank-a": 1717000000200 },
    });
  });

  it("read begin's empty strings as none", () => {
    const record = parseRecord(txid, {
      ...ended,
      idempotencyKey: "",
      client: "",
      series: "",
      previous: "",
      reason: "",
    });
    expect(record).to.include({
      idempotencyKey: undefined,
      client: undefined,
      series: undefined,
      previous: undefined,
      reason: undefined,
    });
  });

  it("parse a presumed abort, which has no participants, and a record holding only a forward link", () => {
    const presumed = parseRecord(txid, {
      txid,
      decision: "abort",
      state: "aborted",
      presumed: "1",
      reason: "",
      decidedBy: "inquiry",
      decidedAt: "1",
      createdAt: "1",
      endedAt: "1",
    });
    expect(presumed).to.include({ presumed: true, state: "aborted", decision: "abort" });
    expect(presumed.participants).to.deep.equal([]);
    expect(parseRecord(txid, { next: other })).to.include({ state: "preparing", next: other });
  });

  it("parse times Lua writes in exponent form (past 2^53)", () => {
    expect(
      parseRecord(txid, { ...ended, deadlineAt: "1.0000000179614243e+20" }).deadlineAtMs,
    ).to.equal(1.0000000179614243e20);
  });

  const corrupt: [field: string, value: string][] = [
    ["state", "finished"],
    ["state", ""],
    ["decision", "maybe"],
    ["decidedBy", "someone"],
    ["onePhase", "true"],
    ["presumed", "yes"],
    ["participants", "bank-a,bank-b"],
    ["participants", '{"bank-a":1}'],
    ["participants", '["Bank A"]'],
    ["timeoutMs", "soon"],
    ["createdAt", ""],
    ["deadlineAt", "0x10"],
    ["attempt", "0"],
    ["series", "not-a-txid"],
    ["previous", "42"],
    ["next", ""],
    ["client", "Shop!"],
    ["idempotencyKey", "a key with spaces"],
    ["beginToken", "token"],
    ["txid", other],
    ["vote:bank-a", "abstain"],
    ["vote:Bank A", "yes"],
    ["ack:bank-a", "later"],
    ["colour", "blue"],
  ];
  for (const [field, value] of corrupt) {
    it(`refuse ${field} = ${JSON.stringify(value)} with an error naming the txid, the field and the value`, () => {
      const err = corruption({ ...ended, [field]: value });
      expect(err).to.include({ txid, field, value });
      expect(err.message)
        .to.contain(txid)
        .and.to.contain(field)
        .and.to.contain(JSON.stringify(value));
    });
  }
});
