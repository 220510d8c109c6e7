import { expect } from "chai";
import type { ClusterFile } from "../../scripts/cluster/cluster-file.js";
import { newTxid } from "../../shared/ids.js";
import {
  bankUrl,
  http,
  loggedCount,
  openAccount,
  raw,
  preparedLeft,
  settled,
  snapshot,
  uniqueAccount,
} from "../support/bank-client.js";
import type { RunAnswer } from "../support/answers.js";
import { sharedCluster } from "../support/cluster-fixture.js";

/** Every case must get a 4xx with a message that names what to fix, and change nothing. */
describe("bad input gets a clear 4xx and changes nothing", function () {
  let cluster: ClusterFile;
  let alice: string;
  let bob: string;
  let baseline: Awaited<ReturnType<typeof snapshot>>;
  let loggedBefore: number;

  const logged = () => loggedCount(cluster);
  const post = (body: unknown) =>
    http.post<RunAnswer>(`${cluster.coordinator.url}/v1/transactions`, body);
  const op = (opts: Record<string, unknown>) => ({
    op: "debit",
    account: alice,
    amount: "10",
    ...opts,
  });
  const twoBanks = (debit: Record<string, unknown>) => ({
    participants: [
      { name: "bank-a", operations: [op(debit)] },
      { name: "bank-b", operations: [{ op: "credit", account: bob, amount: "10" }] },
    ],
  });

  before(async function () {
    this.timeout(120_000);
    cluster = await sharedCluster();
    alice = uniqueAccount("alice");
    bob = uniqueAccount("bob");
    await openAccount(cluster, "bank-a", alice, 100);
    await openAccount(cluster, "bank-b", bob, 100);
  });

  beforeEach(async function () {
    baseline = await snapshot(cluster);
    loggedBefore = await logged();
  });

  afterEach(async function () {
    await settled(cluster);
    const after = await snapshot(cluster);
    expect(after.total, "total changed").to.equal(baseline.total);
    expect(after.ledgerEntries, "ledger changed").to.equal(baseline.ledgerEntries);
    expect([...after.perAccount]).to.deep.equal([...baseline.perAccount]);
    expect(await preparedLeft(cluster)).to.equal(0);
  });

  function expectClientError(
    res: { status: number; data: { error?: { message?: string } } },
    status: number,
    mentions: RegExp,
  ) {
    expect(res.status, JSON.stringify(res.data)).to.equal(status);
    expect(res.data.error?.message).to.be.a("string").and.match(mentions);
  }

  it("an unknown participant is refused before anything is logged", async function () {
    const res = await post({
      participants: [
        { name: "bank-zz", operations: [op({})] },
        { name: "bank-b", operations: [{ op: "credit", account: bob, amount: "10" }] },
      ],
    });
    expectClientError(res, 400, /unknown participant "bank-zz"/);
    expect(await logged()).to.equal(loggedBefore);
  });

  it("the same participant twice in one transaction is refused", async function () {
    const res = await post({
      participants: [
        { name: "bank-a", operations: [op({})] },
        { name: "bank-a", operations: [op({})] },
      ],
    });
    expectClientError(res, 400, /appears twice/);
    expect(await logged()).to.equal(loggedBefore);
  });

  it("an unknown account gets 422 naming the account, and the other bank's credit is undone", async function () {
    const res = await post(twoBanks({ account: "no-such-account" }));
    expectClientError(res, 422, /no-such-account/);
    expect(res.data.outcome).to.equal("aborted");
  });

  for (const [label, amount] of [
    ["a decimal", "1.5"],
    ["an exponent", "1e3"],
    ["a negative", "-5"],
    ["a leading plus", "+5"],
    ["a leading zero", "05"],
    ["a JSON number", 5],
    ["an empty string", ""],
    ["more than bigint holds", "99999999999999999999999"],
  ] as const) {
    it(`a malformed amount (${label}) gets 400 naming the amount field`, async function () {
      const res = await post(twoBanks({ amount }));
      expectClientError(res, 400, /amount/);
    });
  }

  it("an unknown operation field is refused", async function () {
    const res = await post(twoBanks({ memo: "hi" }));
    expectClientError(res, 400, /memo|unrecognized/i);
  });

  it("a timeoutMs above the maximum is refused before anything is logged", async function () {
    const res = await post({ ...twoBanks({}), timeoutMs: 10_000_000 });
    expectClientError(res, 400, /timeoutMs/);
    expect(await logged()).to.equal(loggedBefore);
  });

  it("unknown top-level fields, empty participant lists and missing operations are refused", async function () {
    expectClientError(await post({ ...twoBanks({}), extra: 1 }), 400, /extra|unrecognized/i);
    expectClientError(await post({ participants: [] }), 400, /participants/);
    expectClientError(await post({ participants: [{ name: "bank-a" }] }), 400, /operations/);
    expect(await logged()).to.equal(loggedBefore);
  });

  it("a body that is not JSON gets 415, and malformed JSON gets 400", async function () {
    const text = await http.post(`${cluster.coordinator.url}/v1/transactions`, "participants=1", {
      headers: { "content-type": "text/plain" },
    });
    expectClientError(text, 415, /JSON/);
    const broken = await http.post(
      `${cluster.coordinator.url}/v1/transactions`,
      '{"participants": [',
      { headers: { "content-type": "application/json" } },
    );
    expectClientError(broken, 400, /JSON/);
  });

  it("an oversized body gets 413", async function () {
    const res = await post({
      participants: [{ name: "bank-a", operations: [op({ account: "x".repeat(70_000) })] }],
    });
    expectClientError(res, 413, /exceeds/);
  });

  for (const txid of [
    "not-a-uuid",
    "01A20128-86B4-73A4-BBC4-BEE44A4BD441",
    "x'; DROP TABLE accounts; --",
    "01a20128-86b4-73a4-bbc4-bee44a4bd44",
  ]) {
    it(`a malformed txid (${JSON.stringify(txid)}) is refused by the participant and the coordinator`, async function () {
      const encoded = encodeURIComponent(txid);
      const prepare = await http.post(`${bankUrl(cluster, "bank-a")}/v1/2pc/${encoded}/prepare`, {
        operations: [op({})],
      });
      expectClientError(prepare, 400, /txid/);
      const commit = await http.post(`${bankUrl(cluster, "bank-a")}/v1/2pc/${encoded}/commit`, {});
      expectClientError(commit, 400, /txid/);
      const query = await http.get(
        `${cluster.coordinator.url}/v1/transactions/${encoded}/decision`,
      );
      expectClientError(query, 400, /txid/);
    });
  }

  it("a participant refuses malformed operations in PREPARE with 400 and prepares nothing", async function () {
    const txid = newTxid();
    const res = await http.post(`${bankUrl(cluster, "bank-a")}/v1/2pc/${txid}/prepare`, {
      operations: [op({ amount: "1.5" })],
    });
    expectClientError(res, 400, /amount/);
    const status = await http.get(`${bankUrl(cluster, "bank-a")}/v1/2pc/${txid}`);
    expect(status.data).to.deep.include({ prepared: false, outcome: null, journal: null });
  });

  it("opening an account without the admin secret gets 401", async function () {
    const res = await raw.post(`${bankUrl(cluster, "bank-a")}/v1/accounts`, {
      id: uniqueAccount("mint"),
      balance: "1000000",
    });
    expectClientError(res, 401, /admin secret/);
    expectClientError(
      await raw.get(`${bankUrl(cluster, "bank-a")}/v1/accounts`),
      401,
      /admin secret/,
    );
  });

  it("reading an unknown account gets 404, and a malformed account id 400", async function () {
    expectClientError(
      await http.get(`${bankUrl(cluster, "bank-a")}/v1/accounts/nobody-${Date.now()}`),
      404,
      /does not exist/,
    );
    expectClientError(
      await http.get(`${bankUrl(cluster, "bank-a")}/v1/accounts/${encodeURIComponent("a b;'")}`),
      400,
      /id/,
    );
  });

  it("an unknown route gets 404 with a JSON error", async function () {
    expectClientError(
      await http.get(`${cluster.coordinator.url}/v1/nothing-here`),
      404,
      /no route/,
    );
  });
});
