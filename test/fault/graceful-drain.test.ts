import { expect } from "chai";
import { Redis } from "ioredis";
import { sleep } from "../../shared/clock.js";
import { freePort, type ProcessSpec } from "../../scripts/cluster/processes.js";
import { adminSecretOf } from "../../scripts/cluster/cluster-file.js";
import type { TransferSpec } from "../support/bank-client.js";
import { useFaultHarness, type FaultHarness } from "../support/fault-harness.js";
import { balanceOf, openPair } from "../support/fault-moves.js";
import { DrainLoad, logLines, spawnChild, type Child, type Sent } from "../support/drain-load.js";

/** Workers at once: the load of the measurement in the issue. */
const CONCURRENCY = 8;
/** The drain bound of the processes started here (the default). */
const DRAIN_TIMEOUT_MS = 10_000;

/**
 * SIGTERM under load, to real processes: what was accepted is answered (committed or aborted,
 * never unknown, never a broken connection), what comes after is refused with 503 `draining` and
 * runs nothing, `/readyz` says 503 meanwhile, the process exits 0, and the cluster ends at rest
 * with the money where the answers say.
 */
describe("graceful drain on SIGTERM (real processes under load)", function () {
  this.timeout(240_000);
  let h: FaultHarness;
  useFaultHarness((harness) => (h = harness));

  async function openPairs(fromBank: string, toBank: string): Promise<TransferSpec[]> {
    const pairs: TransferSpec[] = [];
    for (let i = 0; i < CONCURRENCY; i++) pairs.push(await openPair(h, fromBank, toBank));
    return pairs;
  }

  /** Sends the signal once `load` has had answers, and watches `/readyz` (and `probe`) until exit. */
  async function signalUnderLoad(
    load: DrainLoad,
    child: Child,
    url: string,
    probe?: () => Promise<Response>,
  ): Promise<{ readyz: number[]; probes: { status: number; code?: string }[] }> {
    await h.eventually("answers before the signal", () =>
      Promise.resolve(load.answered() >= 2 * CONCURRENCY),
    );
    load.signalled = true;
    process.kill(child.pid, "SIGTERM");
    const seen = { readyz: [] as number[], probes: [] as { status: number; code?: string }[] };
    const state = { exited: false };
    void child.exited.then(() => (state.exited = true));
    while (!state.exited) {
      try {
        seen.readyz.push((await fetch(`${url}/readyz`)).status);
        if (probe) {
          const res = await probe();
          const body = (await res.json()) as { error?: { code?: string } };
          seen.probes.push({
            status: res.status,
            ...(body.error?.code ? { code: body.error.code } : {}),
          });
        }
      } catch {
        // Refused: the process has closed its port and is exiting.
      }
      await sleep(10);
    }
    return seen;
  }

  /** Every transfer's pair holds what the answers say: each committed transfer moved 1. */
  async function expectBalances(pairs: TransferSpec[], sent: Sent[], tag: string): Promise<void> {
    for (const [i, pair] of pairs.entries()) {
      const committed = sent.filter(
        (s) => s.key.startsWith(`${tag}-${i}-`) && s.outcome === "committed",
      ).length;
      expect(await balanceOf(h, pair.from.bank, pair.from.account)).to.equal(
        BigInt(1000 - committed),
      );
      expect(await balanceOf(h, pair.to.bank, pair.to.account)).to.equal(BigInt(1000 + committed));
    }
  }

  /** A coordinator of its own on the harness's log and participants, on a port of its own. */
  async function coordinatorSpec(
    name: string,
    env: Record<string, string>,
  ): Promise<{ spec: ProcessSpec; url: string }> {
    const first = h.process("coordinator");
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const spec: ProcessSpec = {
      ...first,
      name,
      port,
      url,
      args: [first.args[0] as string, `--concord-name=${name}`, `--concord-dir=${h.dir}`],
      env: { ...first.env, CONCORD_PORT: String(port), CONCORD_LOG_LEVEL: "info", ...env },
      marker: `--concord-name=${name} --concord-dir=${h.dir}`,
      log: first.log.replace(/coordinator\.log$/, `${name}.log`),
    };
    return { spec, url };
  }

  function figures(sent: Sent[], extra: Record<string, unknown>): Record<string, unknown> {
    const count = (f: (s: Sent) => boolean) => sent.filter(f).length;
    return {
      sentBeforeSignal: count((s) => !s.sentAfterSignal),
      inFlightAtSignal: count((s) => !s.sentAfterSignal && s.endedAfterSignal),
      committed: count((s) => s.outcome === "committed"),
      aborted: count((s) => s.outcome === "aborted"),
      answeredAfterSignal: count((s) => s.kind === "answered" && s.endedAfterSignal),
      draining503: count((s) => s.kind === "draining"),
      refusedAfterExit: count((s) => s.kind === "refused"),
      resetNotAccepted: count((s) => s.kind === "reset"),
      ...extra,
    };
  }

  it("the coordinator: accepted requests get committed or aborted, new ones 503 draining, exit 0", async function () {
    const pairs = await openPairs("bank-a", "bank-b");
    const { spec, url } = await coordinatorSpec("coordinator-drain", {
      CONCORD_DRAIN_TIMEOUT_MS: String(DRAIN_TIMEOUT_MS),
      // Every transaction waits between its durable decision and its COMMITs: at the signal,
      // accepted requests are in phase 2, which the drain must let finish.
      CONCORD_FAILPOINTS: "coordinator.after-decision=sleep(400)",
    });
    const child = await spawnChild(spec, url);
    const tag = `drain-${Date.now().toString(36)}`;
    const apiKey = h.cluster.secrets.apiKey;
    const load = new DrainLoad({ url, apiKey, pairs, maxPerWorker: 400, tag });
    const running = load.start();
    const seen = await signalUnderLoad(load, child, url);
    const exit = await child.exited;
    load.stop();
    await running;

    const sent = load.sent;
    const drained = logLines(spec.log, /^drained|^drain bound reached/).at(-1);
    const report = figures(sent, {
      drainMs: drained?.durationMs,
      readyz503: seen.readyz.filter((s) => s === 503).length,
    });
    console.log(`      coordinator drain: ${JSON.stringify(report)}`);
    for (const s of sent) if (s.txid && s.outcome) h.record(s.txid, s.outcome as "committed");

    expect(exit, "exit").to.deep.equal({ code: 0, signal: null });
    expect(drained?.msg, "the drain's log line").to.match(/every accepted request was answered/);
    expect(sent.filter((s) => s.kind === "other")).to.deep.equal([]);
    for (const s of sent.filter((x) => x.kind === "answered"))
      expect(s.outcome, JSON.stringify(s)).to.be.oneOf(["committed", "aborted"]);
    // Accepted before the signal and answered after it: the drain waited for their phase 2.
    expect(report.inFlightAtSignal).to.be.greaterThan(0);
    expect(sent.filter((s) => !s.sentAfterSignal && s.kind === "answered").length).to.equal(
      report.sentBeforeSignal,
      "every request sent before the signal was answered",
    );
    expect(report.draining503).to.be.greaterThan(0);
    expect(seen.readyz, "readyz while draining").to.include(503);

    // A request refused or cut off ran nothing: its Idempotency-Key is not in the log.
    const clientId = Object.entries(h.cluster.secrets.apiKeys).find(([, k]) => k === apiKey)?.[0];
    const redis = new Redis(h.cluster.coordinator.adminRedisUrl, { lazyConnect: true });
    try {
      await redis.connect();
      const logged = async (key: string) =>
        (await redis.exists(`{concord:coordinator:idempotency}:${clientId ?? ""}/${key}`)) === 1;
      for (const s of sent) {
        const inLog = await logged(s.key);
        if (s.kind === "answered") expect(inLog, `${s.key} answered but not logged`).to.equal(true);
        else expect(inLog, `${s.key} (${s.kind}) ran something`).to.equal(false);
      }
    } finally {
      redis.disconnect();
    }

    await h.verify();
    await expectBalances(pairs, sent, tag);
  });

  it("the coordinator at the bound: what still runs is named in the log and finished by recovery elsewhere", async function () {
    const pairs = await openPairs("bank-a", "bank-b");
    const { spec, url } = await coordinatorSpec("coordinator-bound", {
      CONCORD_DRAIN_TIMEOUT_MS: "1000",
      // Decided, then held past the bound: phase 2 is left to the other coordinator's recovery.
      CONCORD_FAILPOINTS: "coordinator.after-decision=sleep(5000)",
    });
    const child = await spawnChild(spec, url);
    const tag = `bound-${Date.now().toString(36)}`;
    const load = new DrainLoad({
      url,
      apiKey: h.cluster.secrets.apiKey,
      pairs,
      maxPerWorker: 1,
      tag,
    });
    const running = load.start();
    const admin = { authorization: `Bearer ${adminSecretOf(h.cluster, "coordinator")}` };
    await h.eventually("every transfer decided and held", async () => {
      const res = await fetch(`${url}/v1/admin/failpoints`, { headers: admin });
      const { failpoints } = (await res.json()) as {
        failpoints: { name: string; fired: number }[];
      };
      return (
        (failpoints.find((f) => f.name === "coordinator.after-decision")?.fired ?? 0) >= CONCURRENCY
      );
    });
    process.kill(child.pid, "SIGTERM");
    const exit = await child.exited;
    await running;

    const bound = logLines(spec.log, /^drain bound reached/).at(-1);
    console.log(
      `      coordinator at the bound: ${JSON.stringify({ left: (bound?.txids as unknown[] | undefined)?.length, drainMs: bound?.durationMs, cut: load.sent.filter((s) => s.kind === "reset").length })}`,
    );
    expect(exit, "exit").to.deep.equal({ code: 0, signal: null });
    expect(bound?.msg).to.match(/left to recovery/);
    expect(bound?.txids).to.have.length(CONCURRENCY);
    // The clients were cut off at the bound (they resend with their Idempotency-Key elsewhere);
    // the decisions were durable, so the other coordinator's recovery commits every one.
    await h.verify();
    for (const pair of pairs) {
      expect(await balanceOf(h, pair.from.bank, pair.from.account)).to.equal(999n);
      expect(await balanceOf(h, pair.to.bank, pair.to.account)).to.equal(1001n);
    }
  });

  it("a participant: in-flight PREPAREs answer, new requests get 503 draining, nothing in doubt after restart", async function () {
    const pairs = await openPairs("bank-a", "bank-b");
    const recorded = h.process("bank-b");
    h.signal("bank-b", "SIGTERM");
    await h.waitDead("bank-b");
    const url = h.url("bank-b");
    const spec: ProcessSpec = {
      ...recorded,
      env: {
        ...recorded.env,
        CONCORD_LOG_LEVEL: "info",
        CONCORD_DRAIN_TIMEOUT_MS: String(DRAIN_TIMEOUT_MS),
        // PREPAREs take a while after they are prepared: at the signal, some are in flight.
        CONCORD_FAILPOINTS: "participant.after-prepare=sleep(400)",
      },
    };
    const child = await spawnChild(spec, url);
    const tag = `pdrain-${Date.now().toString(36)}`;
    const coordinator = h.url("coordinator");
    const apiKey = h.cluster.secrets.apiKey;
    const load = new DrainLoad({ url: coordinator, apiKey, pairs, maxPerWorker: 400, tag });
    const running = load.start();
    // A new 2PC message, unsigned: while draining it is refused before any check runs.
    const probe = () =>
      fetch(`${url}/v1/2pc/${crypto.randomUUID()}/prepare`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ operations: [] }),
      });
    const seen = await signalUnderLoad(load, child, url, probe);
    const exit = await child.exited;
    load.stop();
    await running;
    await h.restart("bank-b");

    const sent = load.sent;
    const drained = logLines(spec.log, /^drained|^drain bound reached/).at(-1);
    const report = figures(sent, {
      drainMs: drained?.durationMs,
      readyz503: seen.readyz.filter((s) => s === 503).length,
      prepare503: seen.probes.filter((p) => p.code === "draining").length,
    });
    console.log(`      participant drain: ${JSON.stringify(report)}`);
    for (const s of sent) if (s.txid && s.outcome) h.record(s.txid, s.outcome as "committed");

    expect(exit, "exit").to.deep.equal({ code: 0, signal: null });
    expect(drained?.msg, "the drain's log line").to.match(/every accepted request was answered/);
    expect(seen.readyz, "readyz while draining").to.include(503);
    expect(seen.probes.map((p) => p.code)).to.include("draining");
    // The coordinator answered every request: a participant stopping aborts or delays, never
    // leaves the client without an outcome.
    expect(sent.filter((s) => s.kind !== "answered")).to.deep.equal([]);
    for (const s of sent)
      expect(s.outcome, JSON.stringify(s)).to.be.oneOf(["committed", "aborted"]);

    await h.verify();
    await expectBalances(pairs, sent, tag);
  });
});
