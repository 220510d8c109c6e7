import { expect } from "chai";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { compileOperationsSchema, describeFailure } from "../../coordinator/schema-check.js";
import { bankApplication } from "../../participant/bank/bank-application.js";
import { BANK_RULES } from "../../participant/bank/bank-operations.js";
import { descriptorOf } from "../../participant/framework/descriptor-routes.js";
import { schemaLosses } from "../../participant/framework/schema-losses.js";
import { inventoryApplication } from "../../participant/inventory/inventory-application.js";
import { z } from "zod";
import { lockKeysOf, transactionRefusal } from "../../shared/operation-rules.js";
import { ParticipantDirectory, readDirectoryFile } from "../../shared/participant-directory.js";

const WHERE = "body.participants.0.operations";

/** The coordinator's verdict on `operations` with the bank's published schema. */
function checkBank(operations: unknown): string | undefined {
  const validate = compileOperationsSchema(
    descriptorOf("bank-a", bankApplication).operationsSchema,
  );
  if (validate(operations)) return undefined;
  return describeFailure(validate.errors ?? [], WHERE).message;
}

describe("published operation schemas (what the coordinator checks before logging)", function () {
  it("the bank's schema, published as JSON Schema, accepts what the bank's zod schema accepts", function () {
    expect(checkBank([{ op: "debit", account: "alice", amount: "100" }])).to.equal(undefined);
    expect(checkBank([{ op: "read", account: "alice", hold: true }])).to.equal(undefined);
    expect(checkBank([{ op: "credit", account: "b", amount: "1000000000000000" }])).to.equal(
      undefined,
    );
  });

  it("a refusal names the field and says what is wrong, with the application's own message", function () {
    expect(checkBank([{ op: "debit", account: "alice", amount: "1.5" }]))
      .to.include(`${WHERE}.0.amount:`)
      .and.include("positive integer number of minor units");
    // The bound is part of the pattern, so JSON Schema says it too: 10^15 + 1 is refused.
    expect(checkBank([{ op: "debit", account: "a", amount: "1000000000000001" }])).to.include(
      `${WHERE}.0.amount:`,
    );
    expect(checkBank([{ op: "debit", account: "alice", amount: "1", memo: "x" }])).to.include(
      'unrecognized field "memo"',
    );
    expect(checkBank([{ op: "steal", account: "alice" }]))
      .to.include(`${WHERE}.0.op: must be one of`)
      .and.include('"debit"');
    expect(checkBank([])).to.include(WHERE);
    expect(checkBank([{ op: "credit", account: "bad id!", amount: "1" }])).to.include(
      `${WHERE}.0.account:`,
    );
  });

  it("a published schema may use only the plain subset: no references, bounded patterns and depth", function () {
    expect(() => compileOperationsSchema({ $ref: "http://example.com/s.json" })).to.throw(/\$ref/);
    expect(() =>
      compileOperationsSchema({ type: "string", pattern: `^${"a?".repeat(400)}$` }),
    ).to.throw(/pattern/);
    let deep: Record<string, unknown> = { type: "array" };
    for (let i = 0; i < 40; i++) deep = { type: "array", items: deep };
    expect(() => compileOperationsSchema(deep)).to.throw(/deeper/);
    expect(() => compileOperationsSchema({ type: "object", $defs: {} })).to.throw(/\$defs/);
  });

  it("the kinds' rules: conserved quantities balance over all participants; operator-only kinds", function () {
    const rulesOf = () => BANK_RULES;
    const transfer = [
      { name: "bank-a", operations: [{ op: "debit", account: "a", amount: "70" }] },
      { name: "bank-b", operations: [{ op: "credit", account: "b", amount: "70" }] },
    ];
    expect(transactionRefusal(transfer, rulesOf, false)).to.equal(undefined);
    const mint = [{ name: "bank-b", operations: [{ op: "credit", account: "b", amount: "70" }] }];
    expect(transactionRefusal(mint, rulesOf, false)?.rule).to.equal("unbalanced");
    expect(transactionRefusal(mint, rulesOf, true)?.rule).to.equal("unbalanced");
    const read = [{ name: "bank-a", operations: [{ op: "read", account: "a" }] }];
    expect(transactionRefusal(read, rulesOf, false)?.rule).to.equal("needs-operator");
    expect(transactionRefusal(read, rulesOf, true)).to.equal(undefined);
    // A participant that declares no rules adds nothing to any sum.
    const withOther = [...transfer, { name: "inventory", operations: [{ op: "reserve" }] }];
    expect(
      transactionRefusal(withOther, (n) => (n === "inventory" ? undefined : BANK_RULES), false),
    ).to.equal(undefined);
  });

  it("lock keys come from the kinds' templates", function () {
    expect(
      lockKeysOf(BANK_RULES, [
        { op: "debit", account: "alice", amount: "1" },
        { op: "read", account: "bob" },
      ]),
    ).to.deep.equal([
      { key: "accounts:alice", exclusive: true },
      { key: "accounts:bob", exclusive: false },
    ]);
  });

  it("the descriptor's hash changes with the schema and only with it", function () {
    const a = descriptorOf("bank-a", bankApplication);
    expect(descriptorOf("bank-a", bankApplication).hash).to.equal(a.hash);
    const narrower = { ...bankApplication, rules: { ...BANK_RULES, clientFaults: {} } };
    expect(descriptorOf("bank-a", narrower).hash).to.not.equal(a.hash);
  });
});

describe("participant directory files", function () {
  const SECRET = "s".repeat(40);
  let dir: string;
  beforeEach(function () {
    dir = mkdtempSync(join(tmpdir(), "concord-directory-"));
  });
  afterEach(function () {
    rmSync(dir, { recursive: true, force: true });
  });

  it("reads a file, and refuses a bad one naming the field, never echoing a secret", function () {
    const file = join(dir, "participants.json");
    writeFileSync(
      file,
      JSON.stringify({
        participants: { "bank-a": { url: "http://127.0.0.1:1/", secret: SECRET } },
      }),
    );
    expect([...readDirectoryFile(file, "participants")]).to.deep.equal([
      ["bank-a", { url: "http://127.0.0.1:1", secret: SECRET }],
    ]);
    const short = "short-secret";
    writeFileSync(
      file,
      JSON.stringify({ participants: { "bank-a": { url: "http://x", secret: short } } }),
    );
    expect(() => readDirectoryFile(file, "participants"))
      .to.throw(/participants\.bank-a\.secret/)
      .and.satisfy((err: unknown) => !String(err).includes(short));
    writeFileSync(
      file,
      JSON.stringify({ participants: { Coordinator: { url: "http://x", secret: SECRET } } }),
    );
    expect(() => readDirectoryFile(file, "participants")).to.throw(/not a participant name/);
    writeFileSync(file, "{");
    expect(() => readDirectoryFile(file, "participants")).to.throw(/not readable JSON/);
  });

  it("a removed entry can no longer be named or sign, but is still reachable for its transactions", function () {
    const directory = new ParticipantDirectory(
      new Map([
        ["bank-a", { url: "http://a", secret: SECRET }],
        ["bank-b", { url: "http://b", secret: SECRET }],
      ]),
    );
    const change = directory.replace(
      new Map([
        ["bank-a", { url: "http://a2", secret: SECRET }],
        ["inventory", { url: "http://i", secret: SECRET }],
      ]),
    );
    expect(change).to.deep.equal({
      added: ["inventory"],
      removed: ["bank-b"],
      changed: ["bank-a"],
    });
    expect([...directory.current().keys()]).to.deep.equal(["bank-a", "inventory"]);
    expect(directory.secrets.has("bank-b")).to.equal(false);
    expect(directory.find("bank-b")?.url).to.equal("http://b");
    expect(directory.urls.get("bank-a")).to.equal("http://a2");
  });
});

describe("what a zod schema says that its JSON Schema cannot", function () {
  it("finds refinements and transforms, with their paths, and nothing in the reference applications", function () {
    const op = z.discriminatedUnion("op", [
      z.object({ op: z.literal("a"), n: z.number().refine((v) => v % 2 === 0) }).strict(),
      z.object({
        op: z.literal("b"),
        s: z
          .string()
          .transform((v) => v.trim())
          .optional(),
      }),
    ]);
    expect(schemaLosses(z.array(op))).to.deep.equal(["[].n", "[].s"]);
    expect(schemaLosses(z.array(op).refine((l) => l.length < 3))).to.deep.equal([
      "(the list)",
      "[].n",
      "[].s",
    ]);
    expect(schemaLosses(bankApplication.operations)).to.deep.equal([]);
    expect(schemaLosses(inventoryApplication.operations)).to.deep.equal([]);
  });
});
