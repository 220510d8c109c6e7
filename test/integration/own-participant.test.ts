/**
 * The README's "Write your own participant" example, copied out of README.md and run as written
 * (`node points.mjs`, configured by environment variables) against the shared cluster's
 * PostgreSQL and Redis: it must answer signed 2PC messages, vote NO on its CHECK constraint,
 * publish its descriptor, and take part in transactions run by a coordinator that lists it.
 */
import { expect } from "chai";
import { rmSync } from "node:fs";
import { freePort } from "../../scripts/cluster/processes.js";
import type { BankEntry } from "../../scripts/cluster/cluster-file.js";
import { signerFor } from "../../shared/auth.js";
import { newTxid } from "../../shared/ids.js";
import { sharedCluster } from "../support/cluster-fixture.js";
import { http } from "../support/bank-client.js";
import {
  checkConstraintsOf,
  preparedAt,
  rollBackLeftovers,
  scratchDir,
  startOwnCoordinator,
  startReadmeParticipant,
  writeReadmeParticipant,
  type OwnCoordinator,
  type RunningReadmeParticipant,
} from "../support/readme-participant.js";

interface Vote {
  vote: string;
  reason?: string;
  detail?: Record<string, unknown>;
  results?: unknown[];
}

interface TransactionAnswer {
  txid: string;
  outcome: string;
  participants: { name: string; vote?: string; reason?: string; detail?: unknown }[];
}

/** A 2PC message signed as the coordinator signs it (the participant's secret, key id `coordinator`). */
async function signed(
  p: RunningReadmeParticipant,
  method: "GET" | "POST",
  path: string,
  body?: unknown,
) {
  const json = body === undefined ? "" : JSON.stringify(body);
  const contentType = body === undefined ? "" : "application/json";
  const sign = signerFor({ secret: p.secret, keyId: "coordinator", audience: p.name });
  const headers = {
    ...(contentType ? { "content-type": contentType } : {}),
    ...sign(method, path, json, contentType),
  };
  return method === "GET"
    ? http.get(`${p.url}${path}`, { headers })
    : http.post(`${p.url}${path}`, json, { headers, transformRequest: [(d: unknown) => d] });
}

/** A member's points, through the example's own admin route. */
async function pointsOf(p: RunningReadmeParticipant, member: string): Promise<string | undefined> {
  const res = await http.get<{ points?: string }>(`${p.url}/v1/members/${member}`, {
    headers: { authorization: `Bearer ${p.adminSecret}` },
  });
  if (res.status === 404) return undefined;
  expect(res.status, JSON.stringify(res.data)).to.equal(200);
  return res.data.points;
}

describe("the README's own participant, copied and run as written", function () {
  let scratch: ReturnType<typeof scratchDir> | undefined;
  let file: string | undefined;
  let pointsA: RunningReadmeParticipant | undefined;
  let pointsB: RunningReadmeParticipant | undefined;
  let coordinator: OwnCoordinator | undefined;

  const started = () => {
    if (!pointsA || !pointsB || !coordinator) throw new Error("the example did not start");
    return { pointsA, pointsB, coordinator };
  };

  before(async function () {
    this.timeout(180_000);
    const cluster = await sharedCluster();
    const [serverA, serverB] = cluster.banks as [BankEntry, BankEntry];
    scratch = scratchDir();
    file = writeReadmeParticipant();
    // The coordinator's URL is known before it starts: the participants ask it when in doubt,
    // and it may read their descriptors as it starts.
    const coordinatorPort = await freePort();
    const coordinatorUrl = `http://127.0.0.1:${coordinatorPort}`;
    const common = { file, dir: scratch.dir, coordinatorUrl };
    pointsA = await startReadmeParticipant({ ...common, name: "points-a", server: serverA });
    pointsB = await startReadmeParticipant({ ...common, name: "points-b", server: serverB });
    coordinator = await startOwnCoordinator({
      dir: scratch.dir,
      port: coordinatorPort,
      // points-b is registered by a test, through the participants file, while it runs.
      participants: [pointsA],
    });
  });

  afterEach(async function () {
    this.timeout(30_000);
    const { pointsA: a, pointsB: b } = started();
    // Phase 2 of a transaction through the coordinator may still be on its way.
    for (let i = 0; i < 100; i++) {
      if ((await preparedAt(a)).length + (await preparedAt(b)).length === 0) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect([...(await preparedAt(a)), ...(await preparedAt(b))], "left prepared").to.deep.equal([]);
  });

  after(async function () {
    this.timeout(60_000);
    await coordinator?.stop();
    await pointsA?.stop();
    await pointsB?.stop();
    for (const p of [pointsA, pointsB]) if (p) await rollBackLeftovers(p);
    if (file) rmSync(file, { force: true });
    scratch?.remove();
  });

  it("publishes its descriptor: the operations' JSON Schema and its rules, to the coordinator only", async function () {
    const { pointsA: a } = started();
    const res = await signed(a, "GET", "/v1/descriptor");
    expect(res.status, JSON.stringify(res.data)).to.equal(200);
    const descriptor = res.data as Record<string, unknown>;
    expect(descriptor).to.include({ protocol: 1, participant: "points-a", application: "points" });
    expect(descriptor.rules).to.deep.equal({
      discriminator: "op",
      kinds: {
        earn: { lockKey: "members:{member}", writes: true },
        spend: { lockKey: "members:{member}", writes: true },
      },
      clientFaults: { "unknown-member": 422 },
    });
    const schema = descriptor.operationsSchema as Record<string, unknown>;
    expect(schema).to.include({ type: "array", minItems: 1, maxItems: 64 });
    expect(JSON.stringify(schema)).to.include('"earn"').and.to.include('"spend"');
    expect(descriptor.hash).to.match(/^[0-9a-f]{64}$/);
    expect(res.headers["concord-operations-hash"]).to.equal(descriptor.hash);
    // Unsigned, or signed with another participant's secret: refused.
    expect((await http.get(`${a.url}/v1/descriptor`)).status).to.equal(401);
    const other = { ...a, secret: started().pointsB.secret };
    expect((await signed(other, "GET", "/v1/descriptor")).status).to.equal(401);
  });

  it("answers a signed PREPARE with YES, holds it prepared, and commits it on COMMIT", async function () {
    const { pointsA: a } = started();
    const txid = newTxid();
    const member = `alice-${process.pid}`;
    const prepare = {
      operations: [{ op: "earn", member, points: 100 }],
      timeoutMs: 5000,
      participants: ["points-a"],
    };
    const unsigned = await http.post(`${a.url}/v1/2pc/${txid}/prepare`, prepare);
    expect(unsigned.status).to.equal(401);
    const voted = await signed(a, "POST", `/v1/2pc/${txid}/prepare`, prepare);
    expect(voted.status, JSON.stringify(voted.data)).to.equal(200);
    expect(voted.data).to.deep.equal({
      isolation: "read-committed",
      vote: "yes",
      results: [{ member, points: "100" }],
    });
    expect(await preparedAt(a)).to.deep.equal([`concord:points-a:${txid}`]);
    expect(await pointsOf(a, member), "not visible before COMMIT").to.equal(undefined);
    // A repeated PREPARE gives the vote already given.
    expect((await signed(a, "POST", `/v1/2pc/${txid}/prepare`, prepare)).data).to.include({
      vote: "yes",
    });
    const committed = await signed(a, "POST", `/v1/2pc/${txid}/commit`, {});
    expect(committed.status, JSON.stringify(committed.data)).to.equal(200);
    expect(committed.data).to.deep.equal({ txid, state: "committed" });
    expect(await pointsOf(a, member)).to.equal("100");
    // COMMIT again: the same answer, nothing applied twice.
    expect((await signed(a, "POST", `/v1/2pc/${txid}/commit`, {})).data).to.deep.equal({
      txid,
      state: "committed",
    });
    expect(await pointsOf(a, member)).to.equal("100");
  });

  it("votes NO on its CHECK constraint, keeps nothing prepared, and acknowledges the ABORT", async function () {
    const { pointsA: a } = started();
    const member = `bob-${process.pid}`;
    const earn = newTxid();
    const earned = await signed(a, "POST", `/v1/2pc/${earn}/one-phase`, {
      operations: [{ op: "earn", member, points: 10 }],
    });
    expect(earned.data).to.deep.equal({
      isolation: "read-committed",
      outcome: "committed",
      results: [{ member, points: "10" }],
    });
    const txid = newTxid();
    const prepare = { operations: [{ op: "spend", member, points: 11 }], timeoutMs: 5000 };
    const voted = await signed(a, "POST", `/v1/2pc/${txid}/prepare`, prepare);
    expect(voted.status, JSON.stringify(voted.data)).to.equal(200);
    expect(voted.data as Vote).to.deep.equal({
      isolation: "read-committed",
      vote: "no",
      reason: "not-enough-points",
      detail: { member },
    });
    expect(await preparedAt(a)).to.deep.equal([]);
    // The name the README gives the CHECK (the reason a NO vote would carry without refusalFor).
    expect(await checkConstraintsOf(a, "members")).to.deep.equal(["members_points_check"]);
    const aborted = await signed(a, "POST", `/v1/2pc/${txid}/abort`, {});
    expect(aborted.status, JSON.stringify(aborted.data)).to.equal(200);
    expect(aborted.data).to.deep.equal({ txid, state: "aborted" });
    // The tombstone: the same txid can never prepare here now.
    const again = await signed(a, "POST", `/v1/2pc/${txid}/prepare`, {
      operations: [{ op: "spend", member, points: 1 }],
    });
    expect(again.data).to.deep.equal({
      isolation: "read-committed",
      vote: "no",
      reason: "already-aborted",
    });
    expect(await pointsOf(a, member)).to.equal("10");
    // A malformed operation is a 400 naming the field, before any SQL.
    const bad = await signed(a, "POST", `/v1/2pc/${newTxid()}/prepare`, {
      operations: [{ op: "spend", member, points: -1 }],
    });
    expect(bad.status).to.equal(400);
    expect(JSON.stringify(bad.data)).to.include("body.operations.0.points");
  });

  /**
   * Which participant the coordinator knows is seen without side effects: a request with a
   * malformed operation for it is refused on the operation when it is known, on the name when not.
   */
  async function knows(c: OwnCoordinator, name: string): Promise<boolean> {
    const res = await http.post<{ error?: { field?: string } }>(
      `${c.url}/v1/transactions`,
      { participants: [{ name, operations: [{ op: "earn", member: "x", points: 0 }] }] },
      { headers: { authorization: `Bearer ${c.apiKey}` } },
    );
    expect(res.status, JSON.stringify(res.data)).to.equal(400);
    return res.data.error?.field !== "body.participants.0.name";
  }

  /** Registers both participants in the coordinator's file and waits until it has read it. */
  async function registerBoth(): Promise<void> {
    const { pointsA: a, pointsB: b, coordinator: c } = started();
    c.register([a, b]);
    for (let i = 0; i < 100 && !(await knows(c, b.name)); i++)
      await new Promise((r) => setTimeout(r, 100));
    expect(await knows(c, b.name), "points-b registered within 10 s").to.equal(true);
  }

  it("is registered with the running coordinator through its participants file, without a restart", async function () {
    this.timeout(30_000);
    const { pointsB: b, coordinator: c } = started();
    expect(await knows(c, b.name), "not listed at start").to.equal(false);
    await registerBoth();
    const res = await http.post<TransactionAnswer>(
      `${c.url}/v1/transactions`,
      {
        participants: [
          {
            name: "points-b",
            operations: [{ op: "earn", member: `erin-${process.pid}`, points: 7 }],
          },
        ],
      },
      { headers: { authorization: `Bearer ${c.apiKey}` } },
    );
    expect(res.status, JSON.stringify(res.data)).to.equal(200);
    expect(res.data.outcome).to.equal("committed");
    expect(await pointsOf(b, `erin-${process.pid}`)).to.equal("7");
  });

  it("takes part in transactions run by a coordinator that lists it: one commits, one aborts on the CHECK", async function () {
    this.timeout(60_000);
    await registerBoth();
    const { pointsA: a, pointsB: b, coordinator: c } = started();
    const member = `carol-${process.pid}`;
    const run = (operations: { a: unknown[]; b: unknown[] }) =>
      http.post<TransactionAnswer>(
        `${c.url}/v1/transactions`,
        {
          participants: [
            { name: "points-a", operations: operations.a },
            { name: "points-b", operations: operations.b },
          ],
        },
        { headers: { authorization: `Bearer ${c.apiKey}` } },
      );
    // Earn at both, then move 30 points from points-a to points-b.
    const opened = await run({
      a: [{ op: "earn", member, points: 50 }],
      b: [{ op: "earn", member, points: 5 }],
    });
    expect(opened.status, JSON.stringify(opened.data)).to.equal(200);
    expect(opened.data.outcome, JSON.stringify(opened.data)).to.equal("committed");
    const moved = await run({
      a: [{ op: "spend", member, points: 30 }],
      b: [{ op: "earn", member, points: 30 }],
    });
    expect(moved.data.outcome, JSON.stringify(moved.data)).to.equal("committed");
    expect(await pointsOf(a, member)).to.equal("20");
    expect(await pointsOf(b, member)).to.equal("35");
    // More than points-a has: its CHECK makes it vote NO, and points-b's earn is rolled back.
    const refused = await run({
      a: [{ op: "spend", member, points: 21 }],
      b: [{ op: "earn", member, points: 21 }],
    });
    expect(refused.data.outcome, JSON.stringify(refused.data)).to.equal("aborted");
    expect(refused.data.participants.find((p) => p.name === "points-a")).to.deep.include({
      vote: "no",
      reason: "not-enough-points",
      detail: { member },
    });
    expect(await pointsOf(a, member)).to.equal("20");
    expect(await pointsOf(b, member)).to.equal("35");
  });

  it("is checked by the coordinator against its published schema, and its clientFaults reach the client", async function () {
    this.timeout(60_000);
    const { pointsA: a, coordinator: c } = started();
    const post = (operations: unknown[]) =>
      http.post<TransactionAnswer & { error?: { code: string; field?: string } }>(
        `${c.url}/v1/transactions`,
        { participants: [{ name: "points-a", operations }] },
        { headers: { authorization: `Bearer ${c.apiKey}` } },
      );
    const malformed = await post([{ op: "spend", member: "dave", points: -1 }]);
    expect(malformed.status, JSON.stringify(malformed.data)).to.equal(400);
    expect(malformed.data.error?.field).to.equal("body.participants.0.operations.0.points");
    const unknown = await post([{ op: "spend", member: `nobody-${process.pid}`, points: 1 }]);
    expect(unknown.status, JSON.stringify(unknown.data)).to.equal(422);
    expect(unknown.data.outcome).to.equal("aborted");
    expect(unknown.data.error?.code).to.equal("unknown-member");
    expect(await pointsOf(a, `nobody-${process.pid}`)).to.equal(undefined);
  });

  it("serves its invariants to its operators", async function () {
    const { pointsA: a } = started();
    const res = await http.get(`${a.url}/v1/invariants`, {
      headers: { authorization: `Bearer ${a.adminSecret}` },
    });
    expect(res.status, JSON.stringify(res.data)).to.equal(200);
    expect(res.data).to.deep.include({
      participant: "points-a",
      application: "points",
      holds: true,
    });
  });
});
