import { expect } from "chai";
import { Redis } from "ioredis";
import type { ClusterFile } from "../../scripts/cluster/cluster-file.js";
import {
  CorruptRecordError,
  DurableLog,
  NotDecidedError,
  NotVotedError,
  OnePhaseUndecidedError,
  shardOf,
  TxExistsError,
} from "../../shared/durable-log.js";
import { newTxid } from "../../shared/ids.js";
import { serviceAclRules } from "../../shared/redis-acl.js";
import { http, openAccount, transfer, uniqueAccount } from "../support/bank-client.js";
import { txidOf, type DecisionAnswer, type TransactionDetail } from "../support/answers.js";
import { sharedCluster } from "../support/cluster-fixture.js";

describe("the write-once decision register", function () {
  let cluster: ClusterFile;
  let redis: Redis;
  let log: DurableLog;

  before(async function () {
    this.timeout(120_000);
    cluster = await sharedCluster();
    redis = new Redis(cluster.coordinator.redisUrl);
    log = new DurableLog(redis, { namespace: "coordinator", retentionSeconds: 3600 });
  });

  after(() => {
    redis.disconnect();
  });

  it("the first decision wins; a later different decision gets the stored one back and changes nothing", async function () {
    const txid = newTxid();
    await log.begin(txid, {
      participants: ["bank-a", "bank-b"],
      timeoutMs: 60_000,
      onePhase: false,
    });
    const first = await log.decideOnce(txid, "abort", { by: "recovery", reason: "deadline" });
    expect(first).to.deep.equal({ won: true, decision: "abort", reason: "deadline" });
    const second = await log.decideOnce(txid, "commit", { by: "engine", reason: "all yes" });
    expect(second).to.deep.equal({ won: false, decision: "abort", reason: "deadline" });
    const record = await log.get(txid);
    expect(record?.decision).to.equal("abort");
    expect(record?.decidedBy).to.equal("recovery");
    const decisions = (await log.events(txid)).filter((e) => e.type === "decision");
    expect(decisions).to.have.length(1);
  });

  it("concurrent writers of opposite decisions all read back one and the same decision", async function () {
    const txid = newTxid();
    await log.begin(txid, {
      participants: ["bank-a", "bank-b"],
      timeoutMs: 60_000,
      onePhase: false,
    });
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        log.decideOnce(txid, i % 2 ? "commit" : "abort", { by: i % 2 ? "engine" : "recovery" }),
      ),
    );
    expect(results.filter((r) => r.won)).to.have.length(1);
    expect(new Set(results.map((r) => r.decision)).size).to.equal(1);
  });

  it("an inquiry about an unknown txid is answered abort, written first, so the txid can never begin or commit", async function () {
    const txid = newTxid();
    const res = await http.get(`${cluster.coordinator.url}/v1/transactions/${txid}/decision`);
    expect(res.data).to.deep.equal({ txid, decision: "abort" });
    let refused: unknown;
    try {
      await log.begin(txid, { participants: ["bank-a"], timeoutMs: 1000, onePhase: true });
    } catch (err) {
      refused = err;
    }
    expect(refused).to.be.instanceOf(TxExistsError);
    expect((await log.decideOnce(txid, "commit", { by: "engine" })).decision).to.equal("abort");
    const query = await http.get<TransactionDetail>(
      `${cluster.coordinator.url}/v1/transactions/${txid}`,
    );
    expect(query.data.presumedAbort).to.equal(true);
  });

  it("an inquiry about a committed transfer says commit, and an abort attempt afterwards changes nothing", async function () {
    const a = uniqueAccount("a");
    const b = uniqueAccount("b");
    await openAccount(cluster, "bank-a", a, 10);
    await openAccount(cluster, "bank-b", b, 0);
    const res = await transfer(cluster, {
      from: { bank: "bank-a", account: a },
      to: { bank: "bank-b", account: b },
      amount: 10,
    });
    expect(res.data.outcome).to.equal("committed");
    const inquiry = await http.get<DecisionAnswer>(
      `${cluster.coordinator.url}/v1/transactions/${txidOf(res)}/decision`,
    );
    expect(inquiry.data.decision).to.equal("commit");
    const overwrite = await log.decideOnce(txidOf(res), "abort", { by: "operator" });
    expect(overwrite).to.include({ won: false, decision: "commit" });
  });

  it("an inquiry for a transaction still preparing, before its deadline, is answered pending", async function () {
    const txid = newTxid();
    await log.begin(txid, {
      participants: ["bank-a", "bank-b"],
      timeoutMs: 60_000,
      onePhase: false,
    });
    const res = await http.get<DecisionAnswer>(
      `${cluster.coordinator.url}/v1/transactions/${txid}/decision`,
    );
    expect(res.data.decision).to.equal("pending");
    await log.decideOnce(txid, "abort", { by: "operator", reason: "test cleanup" });
  });
});

/**
 * Each decide-* script (one per mode of DurableLog.decideOnce's missingRecord) against the real
 * Redis, as a service's ACL user (shared/redis-acl.ts) in a namespace no service scans, so that
 * neither recovery nor a participant acts on these records while the test looks at them.
 */
describe("the decide-* scripts, one per missing-record mode", function () {
  const NAMESPACE = "participant:register-test";
  const USER = "register-test";
  let admin: Redis;
  let redis: Redis;
  let log: DurableLog;

  before(async function () {
    this.timeout(120_000);
    const cluster = await sharedCluster();
    admin = new Redis(cluster.coordinator.adminRedisUrl);
    const password = newTxid();
    await admin.call(
      "ACL",
      "SETUSER",
      USER,
      "reset",
      "on",
      `>${password}`,
      ...serviceAclRules(NAMESPACE),
    );
    const url = new URL(cluster.coordinator.adminRedisUrl);
    url.username = USER;
    url.password = password;
    redis = new Redis(url.toString());
    log = new DurableLog(redis, { namespace: NAMESPACE, retentionSeconds: 3600 });
  });

  after(async () => {
    redis.disconnect();
    await admin.call("ACL", "DELUSER", USER);
    admin.disconnect();
  });

  /** Seconds the record has left to live: -1 when it does not expire (the log's key layout). */
  const ttlOf = (txid: string) => admin.ttl(`{concord:${NAMESPACE}:${shardOf(txid)}}:tx:${txid}`);
  const begun = async (onePhase = false) => {
    const txid = newTxid();
    await log.begin(txid, { participants: ["bank-a", "bank-b"], timeoutMs: 60_000, onePhase });
    return txid;
  };
  const rejection = (promise: Promise<unknown>) =>
    promise.then(
      () => expect.fail("expected a rejection"),
      (err: unknown) => err,
    );

  describe("decide-presume (the default)", () => {
    it("refuses commit for a txid with no record, and writes nothing", async () => {
      const txid = newTxid();
      expect(await rejection(log.decideOnce(txid, "commit", { by: "engine" }))).to.be.instanceOf(
        NotDecidedError,
      );
      expect(await log.get(txid)).to.equal(undefined);
      expect(await log.events(txid)).to.deep.equal([]);
    });

    it("writes abort for a txid with no record as a presumed abort, ended and expiring", async () => {
      const txid = newTxid();
      const result = await log.decideOnce(txid, "abort", { by: "inquiry", reason: "unknown" });
      expect(result).to.deep.equal({ won: true, decision: "abort", reason: "unknown" });
      const record = await log.get(txid);
      expect(record).to.include({ presumed: true, state: "aborted", decidedBy: "inquiry" });
      expect(record?.endedAtMs).to.be.a("number");
      expect(await ttlOf(txid)).to.be.greaterThan(0);
      expect(await log.listIndex("unacked", 1000)).not.to.include(txid);
    });

    it("refuses an inquiry about a one-phase transaction, and writes nothing", async () => {
      const txid = await begun(true);
      expect(await rejection(log.decideOnce(txid, "abort", { by: "inquiry" }))).to.be.instanceOf(
        OnePhaseUndecidedError,
      );
      expect((await log.get(txid))?.decision).to.equal(undefined);
      expect(await log.listIndex("undecided", 1000)).to.include(txid);
      await log.decideOnce(txid, "abort", { by: "operator", reason: "test cleanup" });
    });

    it("decides a begun transaction: its votes stored, out of undecided, into unacked", async () => {
      const txid = await begun();
      const result = await log.decideOnce(txid, "commit", {
        by: "engine",
        votes: { "bank-a": "yes", "bank-b": "read-only" },
      });
      expect(result).to.deep.equal({ won: true, decision: "commit", reason: "" });
      const record = await log.get(txid);
      expect(record).to.include({ state: "committing", presumed: false });
      expect(record?.votes).to.deep.equal({ "bank-a": "yes", "bank-b": "read-only" });
      expect(await log.listIndex("undecided", 1000)).not.to.include(txid);
      expect(await log.listIndex("unacked", 1000)).to.include(txid);
      expect(await ttlOf(txid)).to.equal(-1);
      await log.end(txid, ["bank-a", "bank-b"]);
    });
  });

  describe("decide-create", () => {
    it("creates a record for a txid with none, which awaits its end in the unacked index", async () => {
      const txid = newTxid();
      const result = await log.decideOnce(txid, "abort", {
        by: "participant",
        reason: "ABORT received",
        missingRecord: "create",
      });
      expect(result).to.deep.equal({ won: true, decision: "abort", reason: "ABORT received" });
      const record = await log.get(txid);
      expect(record).to.include({ state: "aborting", presumed: false, decidedBy: "participant" });
      expect(record?.createdAtMs).to.equal(record?.decidedAtMs);
      expect(await log.listIndex("unacked", 1000)).to.include(txid);
      expect(await ttlOf(txid)).to.equal(-1);
      expect(await log.end(txid, ["bank-a"])).to.equal("aborted");
    });

    it("returns the stored decision to a later caller and changes nothing", async () => {
      const txid = newTxid();
      await log.decideOnce(txid, "abort", { by: "participant", missingRecord: "create" });
      const before = await log.get(txid);
      const again = await log.decideOnce(txid, "commit", { by: "engine", missingRecord: "create" });
      expect(again).to.deep.equal({ won: false, decision: "abort", reason: "" });
      expect(await log.get(txid)).to.deep.equal(before);
      await log.end(txid, ["bank-a"]);
    });

    it("refuses an inquiry about a one-phase transaction, and writes nothing", async () => {
      const txid = await begun(true);
      const refused = log.decideOnce(txid, "abort", { by: "inquiry", missingRecord: "create" });
      expect(await rejection(refused)).to.be.instanceOf(OnePhaseUndecidedError);
      expect((await log.get(txid))?.decision).to.equal(undefined);
      await log.decideOnce(txid, "abort", { by: "operator", reason: "test cleanup" });
    });
  });

  describe("decide-voted", () => {
    const voted = { votedYes: "bank-a" };

    it("refuses a decision where the voter has no YES vote stored, and writes nothing", async () => {
      const unknown = newTxid();
      const refused = log.decideOnce(unknown, "commit", {
        by: "participant",
        missingRecord: voted,
      });
      expect(await rejection(refused)).to.be.instanceOf(NotVotedError);
      expect(await log.get(unknown)).to.equal(undefined);

      const votedNo = newTxid();
      await log.recordVote(votedNo, "bank-a", "no", { reason: "insufficient funds" });
      const before = await log.get(votedNo);
      const refusedNo = log.decideOnce(votedNo, "commit", {
        by: "participant",
        missingRecord: voted,
      });
      expect(await rejection(refusedNo)).to.be.instanceOf(NotVotedError);
      expect(await log.get(votedNo)).to.deep.equal(before);
    });

    it("decides where the voter voted YES: out of undecided, not into unacked, and expiring", async () => {
      const txid = newTxid();
      await log.recordVote(txid, "bank-a", "yes", { participants: ["bank-a", "bank-b"] });
      expect(await log.listIndex("undecided", 1000)).to.include(txid);
      const result = await log.decideOnce(txid, "commit", {
        by: "participant",
        reason: "COMMIT received",
        missingRecord: voted,
      });
      expect(result).to.deep.equal({ won: true, decision: "commit", reason: "COMMIT received" });
      expect(await log.get(txid)).to.include({ state: "committing", decision: "commit" });
      expect(await log.listIndex("undecided", 1000)).not.to.include(txid);
      expect(await log.listIndex("unacked", 1000)).not.to.include(txid);
      expect(await ttlOf(txid)).to.be.greaterThan(0);
      const again = await log.decideOnce(txid, "abort", {
        by: "participant",
        missingRecord: voted,
      });
      expect(again).to.deep.equal({ won: false, decision: "commit", reason: "COMMIT received" });
    });
  });

  it("every record the scripts write, at every step, is read back without complaint", async () => {
    const first = newTxid();
    const txid = newTxid();
    const seen = async (id: string) => expect(await log.get(id)).not.to.equal(undefined);
    await log.begin(first, {
      participants: ["bank-a", "bank-b"],
      timeoutMs: 60_000,
      onePhase: false,
    });
    await log.begin(txid, {
      participants: ["bank-a", "bank-b"],
      timeoutMs: 60_000,
      onePhase: false,
      idempotencyKey: "order-17",
      client: "shop",
      link: { series: first, attempt: 2, previous: first },
    });
    await seen(txid);
    await log.linkNextAttempt(first, txid);
    expect(await log.get(first)).to.include({ next: txid, state: "preparing" });
    await log.decideOnce(txid, "commit", { by: "engine", votes: { "bank-a": "yes" } });
    await seen(txid);
    await log.ack(txid, ["bank-a"], 1000);
    await seen(txid);
    await log.end(txid, ["bank-b"]);
    expect(await log.get(txid)).to.include({ state: "committed", attempt: 2, client: "shop" });
    for (const vote of ["no", "read-only"] as const) {
      const journaled = newTxid();
      await log.recordVote(journaled, "bank-a", vote, { participants: ["bank-a"] });
      expect((await log.get(journaled))?.votes).to.deep.equal({ "bank-a": vote });
    }
    await log.decideOnce(first, "abort", { by: "operator", reason: "test cleanup" });
  });

  it("a corrupt record is refused with an error naming the txid, the field and the value", async () => {
    const txid = await begun();
    const key = `{concord:${NAMESPACE}:${shardOf(txid)}}:tx:${txid}`;
    await admin.hset(key, "state", "bogus");
    for (const read of [log.get(txid), log.getMany([txid])]) {
      const err = await rejection(read);
      expect(err).to.be.instanceOf(CorruptRecordError);
      expect(err).to.include({ txid, field: "state", value: "bogus" });
    }
    await admin.del(key);
  });
});
