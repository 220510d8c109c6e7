/**
 * Generated hostile requests against every endpoint of the coordinator and the participants,
 * sent with valid credentials so that they reach validation. Every generated request is
 * malformed by construction; after each property: no 5xx, every balance and ledger unchanged,
 * nothing prepared, and the coordinator's log holds nothing new.
 */
import { expect } from "chai";
import fc from "fast-check";
import { adminSecretOf, type ClusterFile } from "../../scripts/cluster/cluster-file.js";
import { newTxid } from "../../shared/ids.js";
import {
  bankUrl,
  batchReplies,
  http,
  loggedCount,
  openAccount,
  preparedLeft,
  snapshot,
  uniqueAccount,
} from "../support/bank-client.js";
import { sharedCluster } from "../support/cluster-fixture.js";

/** Runs per property; the suite's total is printed at the end. */
const RUNS = Number(process.env.CONCORD_HOSTILE_RUNS ?? 300);
let casesRun = 0;

// ---- generators -------------------------------------------------------------------------

const sqlish = fc.constantFrom(
  "x'; DROP TABLE accounts; --",
  "' OR '1'='1",
  '"; SELECT pg_sleep(10); --',
  "\\",
  "%27%20OR%201=1",
  "$$; COMMIT PREPARED 'x'; $$",
  "'::bigint",
  "\u0000",
  "../../etc/passwd",
);
const weirdText = fc.oneof(
  sqlish,
  fc.string({ maxLength: 80 }),
  fc.string({ unit: "grapheme", maxLength: 20 }),
  fc.constantFrom("😀", "ＡＢＣ", "a".repeat(65), "", " ", "\u202e"),
);
/** Not a lowercase UUID: what must never reach a gid literal. */
const badTxid = fc
  .oneof(
    sqlish,
    fc.string({ maxLength: 60 }),
    fc.uuid().map((u) => u.toUpperCase()),
    fc.uuid().map((u) => `${u}'`),
    fc.uuid().map((u) => u.slice(1)),
  )
  .filter((s) => !/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(s));
/** Not a valid amount: floats, exponents, signs, leading zeros, beyond bigint, wrong types. */
const badAmount = fc.oneof(
  fc.double().filter((d) => !Number.isInteger(d) || d <= 0),
  fc.integer(),
  fc.bigInt({ min: -(2n ** 80n), max: 0n }).map(String),
  fc.bigInt({ min: 10n ** 15n + 1n, max: 2n ** 90n }).map(String),
  fc.constantFrom(
    "1e5",
    "+5",
    "-5",
    "05",
    "0x10",
    " 5",
    "5.0",
    "5 ",
    "",
    "NaN",
    "Infinity",
    "9223372036854775808",
    "1_000",
  ),
  fc.constant(null),
  fc.array(fc.integer(), { maxLength: 2 }),
);
const badAccount = weirdText.filter((s) => !/^[A-Za-z0-9_-]{1,64}$/.test(s));

/**
 * A path segment as sent: "." and ".." are removed by the client's URL normalisation before
 * they leave (they would address another route), so they are not generated as segments.
 */
const seg = (s: string) => encodeURIComponent(s);
const segmentable = (s: string) => s !== "" && s !== "." && s !== "..";
/** Not a limit the route accepts (digits only, within its bounds). */
const notALimit = (max: number) => (s: string) => !(/^[1-9][0-9]*$/.test(s) && Number(s) <= max);

/** A deeply nested JSON text within the body limit: parsers that recurse could fall over. */
const deeplyNested = fc
  .integer({ min: 1000, max: 30_000 })
  .map((depth) => `${"[".repeat(depth)}${"]".repeat(depth)}`);

describe("hostile input (property-based, fast-check)", function () {
  let cluster: ClusterFile;
  let alice: string;
  let atStart: Awaited<ReturnType<typeof snapshot>>;
  let loggedBefore: number;

  const logged = () => loggedCount(cluster);

  before(async function () {
    this.timeout(120_000);
    cluster = await sharedCluster();
    alice = uniqueAccount("alice");
    await openAccount(cluster, "bank-a", alice, 1000);
    await openAccount(cluster, "bank-b", alice, 1000);
  });

  beforeEach(async function () {
    atStart = await snapshot(cluster);
    loggedBefore = await logged();
  });

  afterEach(async function () {
    const after = await snapshot(cluster);
    expect(after.total, "total of all balances").to.equal(atStart.total);
    expect(after.ledgerEntries, "ledger entries").to.equal(atStart.ledgerEntries);
    expect([...after.perAccount]).to.deep.equal([...atStart.perAccount]);
    expect(await preparedLeft(cluster), "prepared transactions").to.equal(0);
    expect(await logged(), "records in the coordinator's log").to.equal(loggedBefore);
  });

  after(() => {
    // The note of the issue asks how many generated cases ran.
    console.log(`      hostile-input suite: ${casesRun} generated requests, none answered 5xx`);
  });

  /** Sends one request and checks the answer is a clear client error. */
  const expectRefused = (res: { status: number; data: unknown }, what: string) => {
    casesRun++;
    expect(res.status, `${what} -> ${JSON.stringify(res.data).slice(0, 300)}`).to.be.within(
      400,
      499,
    );
    const error = (res.data as { error?: { code?: unknown; message?: unknown } } | undefined)
      ?.error;
    expect(typeof error?.code, `${what}: error.code`).to.equal("string");
    expect(String(error?.message), `${what}: no stack trace`).not.to.match(/\bat .+\.js:\d+/);
  };

  const transfer = (
    debit: Record<string, unknown>,
    credit: Record<string, unknown> = { op: "credit", account: alice, amount: "1" },
  ) => ({
    participants: [
      { name: "bank-a", operations: [{ op: "debit", account: alice, amount: "1", ...debit }] },
      { name: "bank-b", operations: [credit] },
    ],
  });

  it("the coordinator refuses malformed operations before logging anything", async function () {
    this.timeout(300_000);
    const malformedBody = fc.oneof(
      badAmount.map((amount) => transfer({ amount })),
      badAccount.map((account) => transfer({ account })),
      weirdText.map((op) => transfer({ op })),
      fc
        .dictionary(
          fc
            .string({ minLength: 1, maxLength: 10 })
            .filter((k) => !["op", "account", "amount", "expectedVersion"].includes(k)),
          fc.jsonValue(),
          { minKeys: 1, maxKeys: 3 },
        )
        .map((extra) => transfer(extra)),
      fc
        .oneof(
          fc.double(),
          fc.integer({ min: -10, max: 99 }),
          fc.integer({ min: 600_001 }),
          fc.string(),
        )
        .map((timeoutMs) => ({ ...transfer({}), timeoutMs })),
      weirdText.map((name) => ({
        participants: [{ name, operations: [{ op: "debit", account: alice, amount: "1" }] }],
      })),
      fc.constant({ participants: [transfer({}).participants[0], transfer({}).participants[0]] }),
      fc.integer({ min: 65, max: 80 }).map((n) => ({
        participants: [
          {
            name: "bank-a",
            operations: Array.from({ length: n }, () => ({
              op: "debit",
              account: alice,
              amount: "1",
            })),
          },
        ],
      })),
      fc.jsonValue().filter((v) => typeof v !== "object" || v === null || Array.isArray(v)),
    );
    await fc.assert(
      fc.asyncProperty(malformedBody, async (body) => {
        // Sent as JSON text: a bare number or string is a valid JSON body too.
        const text = JSON.stringify(body);
        expectRefused(
          await http.post(`${cluster.coordinator.url}/v1/transactions`, text, {
            headers: { "content-type": "application/json" },
          }),
          text.slice(0, 200),
        );
      }),
      { numRuns: RUNS },
    );
  });

  it("raw bodies: deep nesting, duplicate keys, broken JSON and wrong content types are refused", async function () {
    this.timeout(300_000);
    const valid = JSON.stringify(transfer({}));
    const rawBody = fc.oneof(
      deeplyNested,
      // Duplicate keys: the last one wins in JSON.parse, and it is then validated like any value.
      badAmount.map((a) =>
        valid.replace('"amount":"1"', `"amount":"1","amount":${JSON.stringify(a)}`),
      ),
      fc.constant(
        `{"participants":${JSON.stringify(transfer({}).participants)},"participants":"x"}`,
      ),
      fc.string({ maxLength: 200 }).map((s) => `{"participants": [${s}`),
      fc.string({ maxLength: 100 }).filter((s) => {
        try {
          JSON.parse(s);
          return false;
        } catch {
          return true;
        }
      }),
    );
    const bodyAndPath = fc.tuple(
      rawBody,
      fc.constantFrom("/v1/transactions", "participant-prepare", "participant-batch"),
    );
    await fc.assert(
      fc.asyncProperty(bodyAndPath, async ([text, target]) => {
        const url =
          target === "/v1/transactions"
            ? `${cluster.coordinator.url}/v1/transactions`
            : target === "participant-prepare"
              ? `${bankUrl(cluster, "bank-a")}/v1/2pc/${newTxid()}/prepare`
              : `${bankUrl(cluster, "bank-a")}/v1/2pc/batch`;
        expectRefused(
          await http.post(url, text, { headers: { "content-type": "application/json" } }),
          `${target} ${text.slice(0, 80)}`,
        );
      }),
      { numRuns: RUNS },
    );
    for (const type of ["text/plain", "application/x-www-form-urlencoded", "application/xml"]) {
      expectRefused(
        await http.post(`${cluster.coordinator.url}/v1/transactions`, valid, {
          headers: { "content-type": type },
        }),
        type,
      );
    }
    expectRefused(
      await http.post(
        `${cluster.coordinator.url}/v1/transactions`,
        `{"participants":[],"pad":"${"x".repeat(70_000)}"}`,
        { headers: { "content-type": "application/json" } },
      ),
      "oversized",
    );
  });

  it("participants refuse hostile txids, operations and batches (signed, so they reach validation)", async function () {
    this.timeout(300_000);
    const badPrepareOps = fc.oneof(
      badAmount.map((amount) => [{ op: "debit", account: alice, amount }]),
      badAccount.map((account) => [{ op: "credit", account, amount: "5" }]),
      weirdText.map((op) => [{ op, account: alice, amount: "5" }]),
      fc.constant([]),
    );
    const request = fc.oneof(
      fc
        .tuple(
          badTxid.filter(segmentable),
          fc.constantFrom("prepare", "commit", "abort", "one-phase", "inquiry"),
        )
        .map(([txid, action]) => ({
          path: `/v1/2pc/${seg(txid)}/${action}`,
          body:
            action === "prepare" || action === "one-phase"
              ? { operations: [{ op: "debit", account: alice, amount: "1" }] }
              : {},
        })),
      badPrepareOps.map((operations) => ({
        path: `/v1/2pc/${newTxid()}/prepare`,
        body: { operations },
      })),
      badPrepareOps.map((operations) => ({
        path: `/v1/2pc/${newTxid()}/one-phase`,
        body: { operations },
      })),
      fc.jsonValue().map((extra) => ({ path: `/v1/2pc/${newTxid()}/commit`, body: { extra } })),
      fc.oneof(badTxid, weirdText).map((txid) => ({
        path: "/v1/2pc/batch",
        body: { messages: [{ txid, action: "abort", body: {} }] },
      })),
      fc.integer({ min: 65, max: 100 }).map((n) => ({
        path: "/v1/2pc/batch",
        body: {
          messages: Array.from({ length: n }, () => ({
            txid: newTxid(),
            action: "abort",
            body: {},
          })),
        },
      })),
    );
    await fc.assert(
      fc.asyncProperty(
        request,
        fc.constantFrom("bank-a", "bank-b"),
        async ({ path, body }, bank) => {
          const res = await http.post(`${bankUrl(cluster, bank)}${path}`, body);
          if (path === "/v1/2pc/batch" && res.status === 200) {
            // A well-formed envelope: each message answers for itself, and each must be refused.
            for (const reply of batchReplies(res))
              expectRefused({ status: reply.status, data: reply.body }, `${bank} batch item`);
            return;
          }
          expectRefused(res, `${bank} ${path} ${JSON.stringify(body).slice(0, 120)}`);
        },
      ),
      { numRuns: RUNS },
    );
  });

  it("opening accounts (admin) refuses hostile ids and balances", async function () {
    this.timeout(300_000);
    const auth = (bank: string) => ({
      headers: { authorization: `Bearer ${adminSecretOf(cluster, bank)}` },
    });
    const body = fc.oneof(
      badAccount.map((id) => ({ id, balance: "100" })),
      badAmount.filter((b) => b !== "0").map((balance) => ({ id: uniqueAccount("fuzz"), balance })),
      fc.jsonValue().map((extra) => ({ id: uniqueAccount("fuzz"), balance: "100", extra })),
    );
    await fc.assert(
      fc.asyncProperty(body, fc.constantFrom("bank-a", "bank-b"), async (b, bank) => {
        expectRefused(
          await http.post(`${bankUrl(cluster, bank)}/v1/accounts`, b, auth(bank)),
          `${bank} open ${JSON.stringify(b).slice(0, 120)}`,
        );
      }),
      { numRuns: RUNS },
    );
  });

  it("read endpoints refuse hostile ids and queries", async function () {
    this.timeout(300_000);
    const target = fc.oneof(
      // (An empty id would be the list route itself, which answers 200.)
      badTxid
        .filter(segmentable)
        .map((t) => `${cluster.coordinator.url}/v1/transactions/${seg(t)}`),
      weirdText
        .filter(
          (s) =>
            ![
              "preparing",
              "committing",
              "aborting",
              "committed",
              "aborted",
              "active",
              "finished",
            ].includes(s),
        )
        .map((s) => `${cluster.coordinator.url}/v1/transactions?state=${encodeURIComponent(s)}`),
      fc
        .oneof(fc.integer({ max: 0 }), fc.integer({ min: 501 }), weirdText)
        .map(String)
        .filter(notALimit(500))
        .map((l) => `${cluster.coordinator.url}/v1/transactions?limit=${encodeURIComponent(l)}`),
      badTxid.filter(segmentable).map((t) => `${bankUrl(cluster, "bank-a")}/v1/2pc/${seg(t)}`),
      badAccount
        .filter(segmentable)
        .map((a) => `${bankUrl(cluster, "bank-a")}/v1/accounts/${seg(a)}`),
      fc
        .oneof(
          badTxid.filter((t) => t !== "").map((t) => `txid=${encodeURIComponent(t)}`),
          badAccount.filter((a) => a !== "").map((a) => `account=${encodeURIComponent(a)}`),
          weirdText.filter(notALimit(10_000)).map((w) => `limit=${encodeURIComponent(w)}`),
          weirdText.map((w) => `${encodeURIComponent(w)}x=1`),
        )
        .map((q) => `${bankUrl(cluster, "bank-b")}/v1/ledger?${q}`),
      fc
        .oneof(fc.integer({ max: 0 }), fc.integer({ min: 10_001 }), weirdText)
        .map(String)
        .filter(notALimit(10_000))
        .map((l) => `${bankUrl(cluster, "bank-b")}/v1/accounts?limit=${encodeURIComponent(l)}`),
    );
    await fc.assert(
      fc.asyncProperty(target, async (url) => {
        expectRefused(await http.get(url), url.slice(0, 200));
      }),
      { numRuns: RUNS },
    );
  });
});
