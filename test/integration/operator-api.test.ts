/**
 * The operator API against a real cluster of its own (two banks), started with the admin API on
 * (failpoints) and recovery intervals long enough that nothing but the test finishes a
 * transaction: what the tests see held is held until they act.
 */
import { expect } from "chai";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { signerFor } from "../../shared/auth.js";
import { sleep } from "../../shared/clock.js";
import { newTxid } from "../../shared/ids.js";
import type { ActionAnswer, InDoubtAnswer } from "../../coordinator/operator-routes.js";
import { startCluster, stopCluster } from "../../scripts/cluster/cluster.js";
import { removeOutsideData } from "../../scripts/cluster/postgres.js";
import { armFailpoint, disarmAllFailpoints } from "../../scripts/cluster/admin-client.js";
import {
  adminSecretOf,
  operatorSecretOf,
  type ClusterFile,
} from "../../scripts/cluster/cluster-file.js";
import type { Refusable } from "../support/answers.js";
import {
  account,
  bankUrl,
  http,
  openAccount,
  peerSigner,
  registerCluster,
  transferRequest,
  uniqueAccount,
} from "../support/bank-client.js";
import { TEST_ENV } from "../support/cluster-fixture.js";

/** Nothing finishes a transaction on its own within a test: only the engine and the operator. */
const OPERATOR_TEST_ENV: Record<string, string> = {
  ...TEST_ENV,
  CONCORD_ADMIN_ENDPOINTS: "true",
  CONCORD_RECOVERY_INTERVAL_MS: "600000",
  CONCORD_RECOVERY_MIN_AGE_MS: "600000",
};

interface TransactionDetail extends Refusable {
  state?: string;
  decision?: string | null;
  decidedBy?: string;
  participants?: { name: string; acknowledgedAt: string | null }[];
}

async function eventually(what: string, check: () => Promise<boolean>, boundMs = 60_000) {
  const until = Date.now() + boundMs;
  while (!(await check().catch(() => false))) {
    if (Date.now() > until) throw new Error(`not within ${boundMs} ms: ${what}`);
    await sleep(100);
  }
}

describe("the operator API (in doubt, abort, retry, stats)", function () {
  this.timeout(300_000);
  let dir: string;
  let cluster: ClusterFile;
  const pending: AbortController[] = [];

  const operator = () => ({
    headers: { authorization: `Bearer ${operatorSecretOf(cluster, "coordinator")}` },
  });
  const url = (path: string) => `${cluster.coordinator.url}${path}`;
  const inDoubt = async () => {
    const res = await http.get<InDoubtAnswer>(url("/v1/operator/in-doubt"), operator());
    expect(res.status, JSON.stringify(res.data)).to.equal(200);
    return res.data;
  };
  const act = (txid: string, action: "abort" | "retry", body: unknown = {}) =>
    http.post<ActionAnswer & Refusable>(
      url(`/v1/operator/transactions/${txid}/${action}`),
      body,
      operator(),
    );
  const detail = async (txid: string) =>
    (await http.get<TransactionDetail>(url(`/v1/transactions/${txid}`), operator())).data;
  const pair = async () => {
    const from = uniqueAccount("op-from");
    const to = uniqueAccount("op-to");
    await openAccount(cluster, "bank-a", from, 100);
    await openAccount(cluster, "bank-b", to, 100);
    return transferRequest({
      from: { bank: "bank-a", account: from },
      to: { bank: "bank-b", account: to },
      amount: 10,
    });
  };
  /** Starts a transfer and does not wait for its answer (a failpoint holds it). */
  const startTransfer = (body: unknown) => {
    const controller = new AbortController();
    pending.push(controller);
    void http
      .post(url("/v1/transactions"), body, { signal: controller.signal, timeout: 0 })
      .catch(() => undefined);
  };

  before(async function () {
    dir = mkdtempSync(join(tmpdir(), "concord-operator-"));
    cluster = registerCluster(
      await startCluster({ dir, banks: 2, inventory: 0, env: OPERATOR_TEST_ENV }),
    );
  });

  after(async function () {
    for (const c of pending) c.abort();
    if (!dir) return;
    await stopCluster(dir);
    removeOutsideData(dir);
    rmSync(dir, { recursive: true, force: true });
  });

  afterEach(async function () {
    await disarmAllFailpoints(cluster);
  });

  it("takes the operator secret only: 401 without, 403 with an API key or the admin secret", async function () {
    for (const [method, path] of [
      ["get", "/v1/operator/in-doubt"],
      ["get", "/v1/operator/stats"],
      ["post", `/v1/operator/transactions/${newTxid()}/abort`],
      ["post", `/v1/operator/transactions/${newTxid()}/retry`],
    ] as const) {
      const send = (headers: Record<string, string>) =>
        method === "get"
          ? http.get<Refusable>(url(path), { headers })
          : http.post<Refusable>(url(path), {}, { headers });
      // The test client adds the API key when no Authorization is given: "Bearer " is none.
      expect((await send({ authorization: "Bearer " })).status, `${path} without`).to.equal(401);
      const key = await send({ authorization: `Bearer ${cluster.secrets.apiKey}` });
      expect(key.status, `${path} with an API key`).to.equal(403);
      const admin = await send({
        authorization: `Bearer ${adminSecretOf(cluster, "coordinator")}`,
      });
      expect(admin.status, `${path} with the admin secret`).to.equal(403);
      expect(admin.data.error?.message).to.match(/operator secret/);
    }
  });

  it("a participant's GET /v1/prepared answers the coordinator and its operator, and refuses the unsigned and peers", async function () {
    const prepared = `${bankUrl(cluster, "bank-a")}/v1/prepared`;
    const asCoordinator = signerFor({
      secret: cluster.secrets.participantSecrets["bank-a"] ?? "",
      keyId: "coordinator",
      audience: "bank-a",
    })("GET", "/v1/prepared", "", "");
    const signed = await http.get<{ participant?: string; prepared?: unknown[] }>(prepared, {
      headers: asCoordinator,
    });
    expect(signed.status, JSON.stringify(signed.data)).to.equal(200);
    expect(signed.data.participant).to.equal("bank-a");
    expect(signed.data.prepared).to.be.an("array");
    const asOperator = await http.get(prepared, {
      headers: { authorization: `Bearer ${operatorSecretOf(cluster, "bank-a")}` },
    });
    expect(asOperator.status).to.equal(200);
    const unsigned = await http.get(prepared, { headers: { authorization: "Bearer " } });
    expect(unsigned.status).to.equal(401);
    const peer = peerSigner(cluster, "bank-b", "bank-a")("GET", "/v1/prepared", "", "");
    expect((await http.get(prepared, { headers: peer })).status).to.equal(401);
    const bankAdmin = await http.get(prepared, {
      headers: { authorization: `Bearer ${adminSecretOf(cluster, "bank-a")}` },
    });
    expect(bankAdmin.status).to.equal(403);
  });

  it("refuses bad input with a 4xx naming what to fix, and changes nothing", async function () {
    const malformed = await act("not-a-txid", "abort");
    expect(malformed.status).to.equal(400);
    expect(malformed.data.error?.field).to.equal("params.txid");
    const txid = newTxid();
    const body = await act(txid, "retry", { force: true });
    expect(body.status).to.equal(400);
    expect(body.data.error?.field).to.equal("body");
    const limit = await http.get<Refusable>(url("/v1/operator/in-doubt?limit=lots"), operator());
    expect(limit.status).to.equal(400);
    expect(limit.data.error?.field).to.equal("query.limit");
    for (const action of ["abort", "retry"] as const) {
      const unknown = await act(txid, action);
      expect(unknown.status, action).to.equal(404);
      expect(unknown.data.error?.message).to.match(/no transaction .* nothing was changed/);
    }
    // No presumed abort was written for it: the log still has no record.
    expect((await http.get(url(`/v1/transactions/${txid}`), operator())).status).to.equal(404);
  });

  it("lists a transaction held prepared, and the operator's abort resolves it through the register", async function () {
    const body = await pair();
    const held = await armFailpoint(cluster, cluster.coordinator.url, "coordinator.after-votes", {
      action: "hang",
    });
    expect(held.status).to.equal(200);
    startTransfer({ ...body, timeoutMs: 60_000 });
    let txid = "";
    await eventually("the transfer prepared at both banks and listed in doubt", async () => {
      const view = await inDoubt();
      const undecided = view.unfinished.transactions.find((t) => t.state === "preparing");
      if (!undecided) return false;
      txid = undecided.txid;
      return view.participants.every((p) => p.reachable && p.prepared.some((e) => e.txid === txid));
    });
    const view = await inDoubt();
    expect(view.counts.undecided).to.be.at.least(1);
    for (const p of view.participants) {
      if (!p.reachable) throw new Error(`${p.name} unreachable: ${p.error}`);
      const entry = p.prepared.find((e) => e.txid === txid);
      expect(entry?.log, p.name).to.equal("undecided");
      expect(entry?.gid).to.equal(`concord:${p.name}:${txid}`);
      expect(entry?.journal.vote).to.equal("yes");
      expect(entry?.deadlineAt).to.be.a("string");
    }

    const aborted = await act(txid, "abort");
    expect(aborted.status, JSON.stringify(aborted.data)).to.equal(200);
    expect(aborted.data).to.include({
      decision: "abort",
      decidedBy: "operator",
      alreadyDecided: false,
      finished: true,
    });
    expect(aborted.data.participants.map((p) => p.result)).to.deep.equal([
      "acknowledged",
      "acknowledged",
    ]);
    const after = await inDoubt();
    for (const p of after.participants)
      expect(p.reachable && p.prepared.some((e) => e.txid === txid), p.name).to.equal(false);
    expect(await detail(txid)).to.include({
      state: "aborted",
      decision: "abort",
      decidedBy: "operator",
    });

    // Idempotent: aborted already, it says so; there is nothing left to retry.
    const again = await act(txid, "abort");
    expect(again.status).to.equal(200);
    expect(again.data.alreadyDecided).to.equal(true);
    expect(again.data.message).to.match(/already aborted/);
    const retry = await act(txid, "retry");
    expect(retry.status).to.equal(409);
    expect(retry.data.error?.code).to.equal("already-finished");
  });

  it("refuses to abort a committed transaction (409), and nothing changes", async function () {
    const body = await pair();
    const run = await http.post<{ txid?: string; outcome?: string }>(url("/v1/transactions"), body);
    expect(run.data.outcome, JSON.stringify(run.data)).to.equal("committed");
    const txid = run.data.txid ?? "";
    const before = await detail(txid);
    const from = body.participants[0]?.operations[0] as { account: string };
    const balance = await account(cluster, "bank-a", from.account);
    const refused = await act(txid, "abort");
    expect(refused.status).to.equal(409);
    expect(refused.data.error?.code).to.equal("already-committed");
    expect(refused.data.error?.message).to.match(/committed.*nothing was changed/);
    expect(await detail(txid)).to.deep.equal(before);
    expect(await account(cluster, "bank-a", from.account)).to.deep.equal(balance);
    const retry = await act(txid, "retry");
    expect(retry.status).to.equal(409);
    expect(retry.data.error?.code).to.equal("already-finished");
  });

  it("retry sends the register's decision to a participant that did not acknowledge it", async function () {
    const body = await pair();
    const failing = await armFailpoint(
      cluster,
      bankUrl(cluster, "bank-b"),
      "participant.before-commit-prepared",
      { action: "error" },
    );
    expect(failing.status).to.equal(200);
    const run = await http.post<{ txid?: string; outcome?: string }>(url("/v1/transactions"), body);
    expect(run.data.outcome, JSON.stringify(run.data)).to.equal("committed");
    const txid = run.data.txid ?? "";
    // The engine hands phase 2 to recovery once its sends are spent: bank-a's ack is then logged.
    await eventually("the engine handed phase 2 off", async () => {
      const d = await detail(txid);
      return d.participants?.find((p) => p.name === "bank-a")?.acknowledgedAt != null;
    });
    const view = await inDoubt();
    const atB = view.participants.find((p) => p.name === "bank-b");
    expect(atB?.reachable && atB.prepared.find((e) => e.txid === txid)?.log).to.equal("commit");
    expect(view.unfinished.transactions.find((t) => t.txid === txid)?.state).to.equal("committing");

    const stillFailing = await act(txid, "retry");
    expect(stillFailing.status).to.equal(200);
    expect(stillFailing.data.finished).to.equal(false);
    const b = stillFailing.data.participants.find((p) => p.name === "bank-b");
    expect(b?.result).to.equal("not-acknowledged");
    expect(b?.error).to.be.a("string");

    await disarmAllFailpoints(cluster);
    const retried = await act(txid, "retry");
    expect(retried.status, JSON.stringify(retried.data)).to.equal(200);
    expect(retried.data).to.include({ decision: "commit", decidedBy: "engine", finished: true });
    expect(retried.data.participants).to.deep.equal([
      { name: "bank-a", result: "already-acknowledged" },
      { name: "bank-b", result: "acknowledged" },
    ]);
    expect(await detail(txid)).to.include({ state: "committed" });
    const stats = await http.get<{ inDoubt?: unknown; latency?: Record<string, unknown> }>(
      url("/v1/operator/stats"),
      operator(),
    );
    expect(stats.status).to.equal(200);
    expect(stats.data.latency).to.have.keys("prepare", "decide", "phase2", "end_to_end");
  });

  it("an unreachable participant is listed as such; the others still answer", async function () {
    const bankB = cluster.processes.find((p) => p.name === "bank-b");
    if (!bankB) throw new Error("no bank-b process");
    process.kill(bankB.pid, "SIGSTOP");
    try {
      const view = await inDoubt();
      const b = view.participants.find((p) => p.name === "bank-b");
      expect(b?.reachable).to.equal(false);
      expect(b && !b.reachable && b.error).to.be.a("string");
      expect(view.participants.find((p) => p.name === "bank-a")?.reachable).to.equal(true);
    } finally {
      process.kill(bankB.pid, "SIGCONT");
    }
  });
});
