/**
 * Participants come and go without restarts: a coordinator started with
 * CONCORD_PARTICIPANTS_FILE takes a participant added to the file, and refuses one removed from
 * it, while it runs; and it checks each participant's operations with the schema that
 * participant publishes, fetched again when the participant's answers name a new one.
 *
 * A second coordinator process on the shared cluster's log, with the real banks and inventory,
 * and one in-test participant whose published schema the test changes.
 */
import { expect } from "chai";
import { randomUUID } from "node:crypto";
import { mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  freePort,
  spawnHealthy,
  stopProcess,
  waitUntil,
  type ProcessSpec,
} from "../../scripts/cluster/processes.js";
import type { ClusterFile } from "../../scripts/cluster/cluster-file.js";
import { NOOP_DESCRIPTOR } from "../../scripts/bench/noop-answer.js";
import { sleep } from "../../shared/clock.js";
import {
  describeParticipant,
  DESCRIPTOR_HASH_HEADER,
  type ParticipantDescriptor,
} from "../../shared/participant-descriptor.js";
import { openAccount, raw, uniqueAccount } from "../support/bank-client.js";
import { sharedCluster } from "../support/cluster-fixture.js";
import {
  politeHandler,
  startFakeParticipant,
  type FakeParticipant,
} from "../support/fake-participant.js";

const FAKE_SECRET = "f".repeat(48);

const messageOf = (data: unknown): string =>
  (data as { error?: { message?: string } } | undefined)?.error?.message ?? JSON.stringify(data);

/** A schema the test can narrow and widen: lists of up to `maxItems` operations. */
function fakeDescriptor(maxItems: number): ParticipantDescriptor {
  return describeParticipant({
    participant: "fake",
    application: "fake",
    operationsSchema: { type: "array", minItems: 1, maxItems },
  });
}

describe("participants from a file, reloaded while running; schemas published by each", function () {
  this.timeout(120_000);
  let cluster: ClusterFile;
  let dir: string;
  let file: string;
  let fake: FakeParticipant;
  let published = fakeDescriptor(1);
  let coordinator: { pid: number; spec: ProcessSpec; url: string } | undefined;

  const entry = (name: string) => {
    const p = cluster.participants.find((x) => x.name === name);
    const secret = cluster.secrets.participantSecrets[name];
    if (!p || secret === undefined) throw new Error(`no participant ${name} in the cluster`);
    return { url: p.participantUrl, secret };
  };
  /** Written whole and renamed into place, as an orchestrator updates a mounted file. */
  const writeParticipants = (names: string[], withFake: boolean) => {
    const participants: Record<string, { url: string; secret: string }> = {};
    for (const name of names) participants[name] = entry(name);
    if (withFake) participants.fake = { url: fake.url, secret: FAKE_SECRET };
    writeFileSync(`${file}.new`, JSON.stringify({ participants }), { mode: 0o600 });
    renameSync(`${file}.new`, file);
  };
  const run = (participants: unknown[]) =>
    raw.post(
      `${coordinator?.url ?? ""}/v1/transactions`,
      { participants },
      {
        headers: {
          authorization: `Bearer ${cluster.secrets.apiKey}`,
          "idempotency-key": randomUUID(),
        },
      },
    );
  const listed = async () => {
    const res = await raw.get(`${coordinator?.url ?? ""}/v1/transactions?limit=500`, {
      headers: { authorization: `Bearer ${cluster.secrets.apiKey}` },
    });
    return (res.data as { transactions: unknown[] }).transactions.length;
  };

  before(async function () {
    cluster = await sharedCluster();
    dir = mkdtempSync(join(tmpdir(), "concord-participants-file-"));
    file = join(dir, "participants.json");
    // The fake answers 2PC messages politely and names its current descriptor on each answer,
    // as the participant framework does.
    fake = await startFakeParticipant((req, res, body) => {
      res.setHeader(DESCRIPTOR_HASH_HEADER, published.hash);
      if (req.method === "GET" && req.url === "/v1/descriptor") {
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify(published));
      } else politeHandler(req, res, body);
    });
    writeParticipants(["bank-a", "bank-b"], true);
    const first = cluster.processes.find((p) => p.name === "coordinator");
    if (!first) throw new Error("the cluster has no coordinator process");
    const port = await freePort();
    const env: Record<string, string> = { ...first.env, CONCORD_PORT: String(port) };
    delete env.CONCORD_PARTICIPANTS;
    delete env.CONCORD_PARTICIPANT_SECRETS;
    env.CONCORD_PARTICIPANTS_FILE = file;
    const spec: ProcessSpec = {
      ...first,
      name: "coordinator-file",
      port,
      url: `http://127.0.0.1:${port}`,
      args: [first.args[0] ?? "", "--concord-name=coordinator-file", `--concord-dir=${dir}`],
      env,
      marker: `--concord-name=coordinator-file --concord-dir=${dir}`,
      log: join(dir, "coordinator-file.log"),
    };
    const { pid } = await spawnHealthy(spec, `http://127.0.0.1:${port}`);
    coordinator = { pid, spec, url: `http://127.0.0.1:${port}` };
  });

  after(async function () {
    if (coordinator) await stopProcess(coordinator.pid, coordinator.spec.marker, "SIGTERM");
    await fake.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("a participant added to the file is taken, and one removed is refused, without a restart", async function () {
    const alice = uniqueAccount("alice");
    const bob = uniqueAccount("bob");
    await openAccount(cluster, "bank-a", alice, 100);
    await openAccount(cluster, "bank-b", bob, 100);
    const order = [
      { name: "bank-a", operations: [{ op: "debit", account: alice, amount: "10" }] },
      { name: "bank-b", operations: [{ op: "credit", account: bob, amount: "10" }] },
      { name: "inventory", operations: [{ op: "read", item: "no-such-item" }] },
    ];
    const before = await run(order);
    expect(before.status, JSON.stringify(before.data)).to.equal(400);
    expect(messageOf(before.data)).to.match(/unknown participant "inventory"/);

    writeParticipants(["bank-a", "bank-b", "inventory"], true);
    await waitUntil("inventory taken", async () => (await run(order)).status !== 400, {
      timeoutMs: 20_000,
    });
    const taken = await run(order);
    // The inventory has no such item: it votes NO, and the transaction aborts (a 422: the
    // inventory publishes unknown-item as the client's mistake). What matters is it was run.
    expect(taken.status, JSON.stringify(taken.data)).to.be.oneOf([200, 422]);
    expect(JSON.stringify(taken.data)).to.match(/unknown-item|aborted/);

    writeParticipants(["bank-a", "inventory"], true);
    await waitUntil("bank-b removed", async () => (await run(order)).status === 400, {
      timeoutMs: 20_000,
    });
    const removed = await run(order);
    expect(messageOf(removed.data)).to.match(/unknown participant "bank-b"/);
  });

  it("a broken file is refused and the participants before it stay", async function () {
    writeParticipants(["bank-a", "bank-b"], true);
    const transfer = (a: string, b: string) => [
      { name: "bank-a", operations: [{ op: "debit", account: a, amount: "1" }] },
      { name: "bank-b", operations: [{ op: "credit", account: b, amount: "1" }] },
    ];
    const alice = uniqueAccount("alice");
    const bob = uniqueAccount("bob");
    await openAccount(cluster, "bank-a", alice, 100);
    await openAccount(cluster, "bank-b", bob, 100);
    await waitUntil("bank-b back", async () => (await run(transfer(alice, bob))).status === 200, {
      timeoutMs: 20_000,
    });
    writeFileSync(file, '{"participants": {"bank-a": {"url": "http://x", "secret": "short"}}}');
    // Two polls of the file later, bank-b is still a participant.
    await sleep(2500);
    const still = await run(transfer(alice, bob));
    expect(still.status, JSON.stringify(still.data)).to.equal(200);
  });

  it("operations are checked with the schema the participant publishes, fetched again when it changes", async function () {
    writeParticipants(["bank-a", "bank-b"], true);
    published = fakeDescriptor(1);
    await waitUntil(
      "fake known",
      async () => (await run([{ name: "fake", operations: [{}] }])).status === 200,
      {
        timeoutMs: 20_000,
      },
    );
    const logged = await listed();
    const two = [{ name: "fake", operations: [{ n: 1 }, { n: 2 }] }];
    const refused = await run(two);
    expect(refused.status, JSON.stringify(refused.data)).to.equal(400);
    expect(JSON.stringify(refused.data)).to.match(/body\.participants\.0\.operations/);
    expect(await listed(), "a refused request logs nothing").to.equal(logged);

    // The participant is upgraded: its answers now name a new descriptor, which allows two.
    published = fakeDescriptor(2);
    await waitUntil(
      "new schema taken",
      async () => {
        await run([{ name: "fake", operations: [{}] }]);
        return (await run(two)).status === 200;
      },
      { timeoutMs: 20_000 },
    );
    expect(published.hash).to.not.equal(NOOP_DESCRIPTOR.hash);
  });
});
