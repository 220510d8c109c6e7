import { expect } from "chai";
import { adminSecretOf, type ClusterFile } from "../../scripts/cluster/cluster-file.js";
import { newTxid } from "../../shared/ids.js";
import { bankUrl, http, loggedCount, openAccount, uniqueAccount } from "../support/bank-client.js";
import type { RunAnswer } from "../support/answers.js";
import { onIsolationCluster } from "../support/isolation-cluster.js";

/** A transfer of 1 from bank-a to `to`, with the request's extra fields. */
function transferBody(from: string, to: [string, string], extra: Record<string, unknown> = {}) {
  const { credit, ...rest } = extra as { credit?: Record<string, unknown> };
  return {
    ...rest,
    participants: [
      { name: "bank-a", operations: [{ op: "debit", account: from, amount: "1" }] },
      { name: to[0], operations: [{ op: "credit", account: to[1], amount: "1" }], ...credit },
    ],
  };
}

const levelsOf = (answer: RunAnswer) =>
  Object.fromEntries((answer.participants ?? []).map((p) => [p.name, p.isolation]));

/**
 * The level a client asks for is the level each participant's local transaction runs at (it
 * says so in its answer), per transaction or per participant, with each participant's default
 * otherwise; a level a participant does not run is refused before anything is logged.
 */
describe("isolation levels: per transaction, per participant, with each participant's floor", function () {
  let cluster: ClusterFile;
  let from: string;
  let toA: string;
  let toC: string;

  const started = onIsolationCluster();

  before(async function () {
    cluster = started();
    from = uniqueAccount("iso-from");
    toA = uniqueAccount("iso-to");
    toC = uniqueAccount("iso-to");
    await openAccount(cluster, "bank-a", from, 1_000);
    await openAccount(cluster, "bank-b", toA, 0);
    await openAccount(cluster, "bank-c", toC, 0);
  });

  const run = (body: unknown) =>
    http.post<RunAnswer & { error?: { code: string; field?: string; message: string } }>(
      `${cluster.coordinator.url}/v1/transactions`,
      body,
    );

  it("runs every part at the transaction's level, and a participant's own level over it", async function () {
    this.timeout(60_000);
    const whole = await run(transferBody(from, ["bank-b", toA], { isolation: "serializable" }));
    expect(whole.data.outcome).to.equal("committed");
    expect(levelsOf(whole.data)).to.deep.equal({
      "bank-a": "serializable",
      "bank-b": "serializable",
    });
    const mixed = await run(
      transferBody(from, ["bank-b", toA], {
        isolation: "repeatable-read",
        credit: { isolation: "read-committed" },
      }),
    );
    expect(mixed.data.outcome).to.equal("committed");
    expect(levelsOf(mixed.data)).to.deep.equal({
      "bank-a": "repeatable-read",
      "bank-b": "read-committed",
    });
  });

  it("without a level, each participant runs its own default", async function () {
    this.timeout(60_000);
    const res = await run(transferBody(from, ["bank-c", toC]));
    expect(res.data.outcome).to.equal("committed");
    expect(levelsOf(res.data)).to.deep.equal({
      "bank-a": "read-committed",
      "bank-c": "serializable",
    });
  });

  it("a participant publishes its default and its floor in its descriptor", async function () {
    const res = await http.get<{ isolation?: unknown }>(
      `${bankUrl(cluster, "bank-c")}/v1/descriptor`,
      {
        headers: { authorization: `Bearer ${adminSecretOf(cluster, "bank-c")}` },
      },
    );
    expect(res.status).to.equal(200);
    expect(res.data.isolation).to.deep.equal({ default: "serializable", floor: "repeatable-read" });
  });

  it("an unknown level is a 400 naming the field, and nothing is logged", async function () {
    this.timeout(60_000);
    const before = await loggedCount(cluster);
    for (const [body, field] of [
      [transferBody(from, ["bank-b", toA], { isolation: "snapshot" }), "body.isolation"],
      [transferBody(from, ["bank-b", toA], { isolation: "SERIALIZABLE" }), "body.isolation"],
      [transferBody(from, ["bank-b", toA], { isolation: 3 }), "body.isolation"],
      [
        transferBody(from, ["bank-b", toA], { credit: { isolation: "read-uncommitted" } }),
        "body.participants.1.isolation",
      ],
    ] as const) {
      const res = await run(body);
      expect(res.status, JSON.stringify(res.data)).to.equal(400);
      expect(res.data.error?.field).to.equal(field);
      expect(res.data.error?.message).to.include("read-committed, repeatable-read, serializable");
    }
    expect(await loggedCount(cluster)).to.equal(before);
  });

  it("a level below a participant's floor is refused (422) before anything is logged", async function () {
    this.timeout(60_000);
    const before = await loggedCount(cluster);
    const whole = await run(transferBody(from, ["bank-c", toC], { isolation: "read-committed" }));
    expect(whole.status, JSON.stringify(whole.data)).to.equal(422);
    expect(whole.data.error?.code).to.equal("isolation-below-floor");
    expect(whole.data.error?.field).to.equal("body.isolation");
    expect(whole.data.error?.message).to.include("bank-c").and.include("repeatable-read");
    const part = await run(
      transferBody(from, ["bank-c", toC], { credit: { isolation: "read-committed" } }),
    );
    expect(part.status).to.equal(422);
    expect(part.data.error?.field).to.equal("body.participants.1.isolation");
    expect(await loggedCount(cluster)).to.equal(before);
    // At or above the floor, the same transfer runs.
    const ok = await run(transferBody(from, ["bank-c", toC], { isolation: "repeatable-read" }));
    expect(ok.data.outcome).to.equal("committed");
  });

  it("a participant refuses a PREPARE below its floor whoever sends it, and prepares nothing", async function () {
    this.timeout(60_000);
    const txid = newTxid();
    const res = await http.post<{ error: { code: string; field?: string } }>(
      `${bankUrl(cluster, "bank-c")}/v1/2pc/${txid}/prepare`,
      {
        operations: [{ op: "credit", account: toC, amount: "1" }],
        isolation: "read-committed",
      },
    );
    expect(res.status, JSON.stringify(res.data)).to.equal(422);
    expect(res.data.error.code).to.equal("isolation-below-floor");
    expect(res.data.error.field).to.equal("body.isolation");
    const state = await http.get<{ prepared: boolean }>(
      `${bankUrl(cluster, "bank-c")}/v1/2pc/${txid}`,
    );
    expect(state.data.prepared).to.equal(false);
  });

  for (const level of ["repeatable-read", "serializable"] as const)
    it(`a hot row at ${level}: transfers wait for its key before their snapshot, so none fails to serialize`, async function () {
      this.timeout(120_000);
      const hot = uniqueAccount("iso-hot");
      const sink = uniqueAccount("iso-sink");
      await openAccount(cluster, "bank-a", hot, 1_000);
      await openAccount(cluster, "bank-b", sink, 0);
      const answers: RunAnswer[] = [];
      const worker = async () => {
        for (let i = 0; i < 6; i++)
          answers.push((await run(transferBody(hot, ["bank-b", sink], { isolation: level }))).data);
      };
      await Promise.all(Array.from({ length: 8 }, worker));
      const failures = answers
        .flatMap((a) => a.attempts ?? [])
        .filter((a) => /serialization-failure/.test(String((a as { reason?: string }).reason)));
      expect(failures, "attempts aborted by a serialization failure").to.deep.equal([]);
      expect(answers.filter((a) => a.outcome === "committed").length).to.be.greaterThan(0);
    });
});
