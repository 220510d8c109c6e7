/**
 * The forward link between the attempts of one request (`next`), against the real Redis the
 * suite starts: written only while the earlier attempt's record exists, so that linking to a
 * record that has expired leaves nothing behind.
 */
import { expect } from "chai";
import { Redis } from "ioredis";
import { DurableLog, shardOf } from "../../shared/durable-log.js";
import { newTxid } from "../../shared/ids.js";
import { sharedCluster } from "../support/cluster-fixture.js";

describe("links between the attempts of one request", function () {
  const NAMESPACE = "attempt-links-test";
  let redis: Redis;
  let log: DurableLog;
  const txKey = (txid: string) => `{concord:${NAMESPACE}:${shardOf(txid)}}:tx:${txid}`;

  before(async function () {
    this.timeout(120_000);
    const cluster = await sharedCluster();
    redis = new Redis(cluster.coordinator.adminRedisUrl);
    log = new DurableLog(redis, { namespace: NAMESPACE, retentionSeconds: 3600 });
  });

  after(() => {
    redis.disconnect();
  });

  it("an attempt whose record exists points to the next one", async () => {
    const [previous, next] = [newTxid(), newTxid()];
    await log.begin(previous, {
      participants: ["bank-a", "bank-b"],
      timeoutMs: 60_000,
      onePhase: false,
    });
    await log.linkNextAttempt(previous, next);
    expect((await log.get(previous))?.next).to.equal(next);
    await log.decideOnce(previous, "abort", { by: "operator", reason: "test cleanup" });
  });

  it("an attempt whose record has expired gets no link, and no key is created for it", async () => {
    const [previous, next] = [newTxid(), newTxid()];
    await log.linkNextAttempt(previous, next);
    expect(await redis.exists(txKey(previous))).to.equal(0);
    expect(await log.get(previous)).to.equal(undefined);
  });
});
