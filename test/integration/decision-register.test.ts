import { expect } from "chai";
import { Redis } from "ioredis";
import type { ClusterFile } from "../../scripts/cluster/cluster-file.js";
import { DurableLog, TxExistsError } from "../../shared/durable-log.js";
import { newTxid } from "../../shared/ids.js";
import { http, openAccount, transfer, uniqueAccount } from "../support/bank-client.js";
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

  after(() => redis.disconnect());

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
    const query = await http.get(`${cluster.coordinator.url}/v1/transactions/${txid}`);
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
    const inquiry = await http.get(
      `${cluster.coordinator.url}/v1/transactions/${res.data.txid}/decision`,
    );
    expect(inquiry.data.decision).to.equal("commit");
    const overwrite = await log.decideOnce(res.data.txid, "abort", { by: "operator" });
    expect(overwrite).to.include({ won: false, decision: "commit" });
  });

  it("an inquiry for a transaction still preparing, before its deadline, is answered pending", async function () {
    const txid = newTxid();
    await log.begin(txid, {
      participants: ["bank-a", "bank-b"],
      timeoutMs: 60_000,
      onePhase: false,
    });
    const res = await http.get(`${cluster.coordinator.url}/v1/transactions/${txid}/decision`);
    expect(res.data.decision).to.equal("pending");
    await log.decideOnce(txid, "abort", { by: "operator", reason: "test cleanup" });
  });
});
