/**
 * The coordinator's own limits against hostile peers, with real processes: a durable Redis and
 * the coordinator started here, participants faked by in-test HTTP servers (no PostgreSQL needed,
 * and a fake can misbehave in ways a real bank never does).
 *
 * - a participant's reply is bounded on the bytes as they arrive, whatever the framing;
 * - a client's request must arrive whole within CONCORD_REQUEST_TIMEOUT_MS;
 * - connections beyond CONCORD_MAX_CONNECTIONS are closed on arrival.
 */
import { expect } from "chai";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { request } from "node:http";
import { connect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  freePort,
  isOurProcess,
  spawnDetached,
  stopProcess,
  waitUntil,
  type ProcessSpec,
} from "../../scripts/cluster/processes.js";
import { redisReady, redisSpec, redisUrl } from "../../scripts/cluster/redis.js";
import { sleep } from "../../shared/clock.js";
import {
  ADMIN_ACL_RULES,
  ADMIN_REDIS_USER,
  logNamespace,
  serviceAclRules,
} from "../../shared/redis-acl.js";
import {
  flood,
  politeHandler,
  startFakeParticipant,
  type FakeParticipant,
  type FloodResult,
} from "../support/fake-participant.js";

/** The compiled coordinator next to this compiled test, whatever the build's output folder. */
const COORDINATOR_MAIN = fileURLToPath(new URL("../../coordinator/main.js", import.meta.url));

const MiB = 1024 * 1024;
const FLOOD_BYTES = 400 * MiB;
const FLOOD_CHUNK = 64 * 1024;

const API_KEY = randomBytes(32).toString("hex");
const PARTICIPANT_SECRET = randomBytes(32).toString("hex");
const REDIS_ADMIN_PASSWORD = randomBytes(32).toString("hex");
const REDIS_COORDINATOR_PASSWORD = randomBytes(32).toString("hex");

interface Reply {
  status: number;
  text: string;
}

/**
 * One request on a connection of its own (`agent: false` sends `Connection: close`): a pooled
 * keep-alive socket would count against CONCORD_MAX_CONNECTIONS and outlive the test.
 */
function send(url: string, method: "GET" | "POST", body?: unknown): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const json = body === undefined ? undefined : JSON.stringify(body);
    const req = request(url, {
      method,
      agent: false,
      timeout: 60_000,
      headers: {
        authorization: `Bearer ${API_KEY}`,
        ...(json !== undefined
          ? { "content-type": "application/json", "content-length": Buffer.byteLength(json) }
          : {}),
      },
    });
    req.on("timeout", () => req.destroy(new Error(`${method} ${url}: no answer within 60 s`)));
    req.on("error", reject);
    req.on("response", (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("error", reject);
      res.on("end", () => {
        resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString("utf8") });
      });
    });
    req.end(json);
  });
}

/** The peak resident set of a process so far (kB → bytes), from the kernel's accounting. */
function peakResidentBytes(pid: number): number {
  const match = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  if (!match?.[1]) throw new Error(`no VmHWM in /proc/${pid}/status`);
  return Number(match[1]) * 1024;
}

/** `promise`'s value, or undefined if it has not settled within `ms` (the timer is cleared either way). */
async function within<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let cancel = () => {};
  const timeout = new Promise<undefined>((resolve) => {
    const timer = setTimeout(() => {
      resolve(undefined);
    }, ms);
    cancel = () => {
      clearTimeout(timer);
    };
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    cancel();
  }
}

/** A raw TCP connection to a loopback port, with what it received and whether the peer closed it. */
interface RawConnection {
  socket: Socket;
  received: () => string;
  closed: Promise<void>;
  isClosed: () => boolean;
}

function rawConnect(port: number): Promise<RawConnection> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1");
    let data = "";
    let isClosed = false;
    const closed = new Promise<void>((r) =>
      socket.once("close", () => {
        isClosed = true;
        r();
      }),
    );
    socket.on("data", (d: Buffer) => (data += d.toString("latin1")));
    // Writes after the server hung up fail with EPIPE/ECONNRESET: that is the outcome under test, not an error.
    socket.on("error", () => undefined);
    socket.once("connect", () => {
      resolve({ socket, received: () => data, closed, isClosed: () => isClosed });
    });
    socket.once("error", reject);
  });
}

describe("the coordinator's own limits (real coordinator and Redis, fake participants)", function () {
  let dir: string;
  let redis: { spec: ProcessSpec; pid: number } | undefined;
  let redisPort = 0;
  let bankA: FakeParticipant | undefined;
  let bankB: FakeParticipant | undefined;
  /** The coordinator of the running test: each test starts its own with the limits it checks. */
  let coordinator: { spec: ProcessSpec; pid: number; url: string; port: number } | undefined;

  before(async function () {
    this.timeout(60_000);
    dir = mkdtempSync(join(tmpdir(), "concord-own-limits-"));
    redisPort = await freePort();
    const spec = redisSpec({
      name: "redis-own-limits",
      dataDir: join(dir, "redis"),
      port: redisPort,
      log: join(dir, "redis.log"),
      users: [
        { name: ADMIN_REDIS_USER, password: REDIS_ADMIN_PASSWORD, rules: ADMIN_ACL_RULES },
        {
          name: "coordinator",
          password: REDIS_COORDINATOR_PASSWORD,
          rules: serviceAclRules(logNamespace("coordinator")),
        },
      ],
    });
    redis = { spec, pid: spawnDetached(spec) };
    const pid = redis.pid;
    await waitUntil(
      spec.name,
      () => redisReady(redisUrl(redisPort, ADMIN_REDIS_USER, REDIS_ADMIN_PASSWORD)),
      {
        timeoutMs: 30_000,
        alive: () => isOurProcess(pid, spec.marker),
        log: spec.log,
      },
    );
    bankA = await startFakeParticipant(politeHandler);
    bankB = await startFakeParticipant(politeHandler);
  });

  afterEach(async function () {
    this.timeout(30_000);
    if (coordinator)
      await stopProcess(
        coordinator.pid,
        coordinator.spec.marker,
        coordinator.spec.stopSignal,
        5000,
      );
    coordinator = undefined;
    // Whatever a test made bank-a do, the next coordinator's recovery finds it polite.
    if (bankA) bankA.handler = politeHandler;
  });

  after(async function () {
    this.timeout(60_000);
    if (coordinator)
      await stopProcess(
        coordinator.pid,
        coordinator.spec.marker,
        coordinator.spec.stopSignal,
        5000,
      );
    await bankA?.close();
    await bankB?.close();
    if (redis) await stopProcess(redis.pid, redis.spec.marker, redis.spec.stopSignal);
    rmSync(dir, { recursive: true, force: true });
  });

  async function startCoordinator(
    limits: Record<string, string> = {},
  ): Promise<{ pid: number; url: string; port: number }> {
    if (!bankA || !bankB) throw new Error("fake participants not started");
    const port = await freePort();
    const spec: ProcessSpec = {
      name: "coordinator-own-limits",
      role: "coordinator",
      command: process.execPath,
      args: [COORDINATOR_MAIN],
      env: {
        CONCORD_PORT: String(port),
        CONCORD_REDIS_URL: redisUrl(redisPort, "coordinator", REDIS_COORDINATOR_PASSWORD),
        CONCORD_PARTICIPANTS: `bank-a=${bankA.url},bank-b=${bankB.url}`,
        CONCORD_PARTICIPANT_SECRETS: `bank-a=${PARTICIPANT_SECRET},bank-b=${PARTICIPANT_SECRET}`,
        CONCORD_API_KEYS: `client-1=${API_KEY}`,
        CONCORD_LOG_LEVEL: "warn",
        ...limits,
      },
      port,
      log: join(dir, `coordinator-${port}.log`),
      marker: COORDINATOR_MAIN,
      stopSignal: "SIGTERM",
    };
    const pid = spawnDetached(spec);
    const url = `http://127.0.0.1:${port}`;
    coordinator = { spec, pid, url, port };
    await waitUntil(spec.name, async () => (await send(`${url}/healthz`, "GET")).status === 200, {
      timeoutMs: 30_000,
      alive: () => isOurProcess(pid, spec.marker),
      log: spec.log,
    });
    return { pid, url, port };
  }

  /** Every transaction this client can see in the log (the listing is per API key; at most 500). */
  async function loggedTransactions(url: string): Promise<number> {
    const res = await send(`${url}/v1/transactions?limit=500`, "GET");
    expect(res.status, res.text).to.equal(200);
    return (JSON.parse(res.text) as { transactions: unknown[] }).transactions.length;
  }

  it("a participant's huge chunked reply leaves the coordinator's memory bounded", async function () {
    this.timeout(120_000);
    if (!bankA) throw new Error("fake participants not started");
    // Every POST to bank-a (PREPARE, then ABORT retries, single or batched) gets a 400 MiB stream.
    const floods: Promise<FloodResult>[] = [];
    // (Its descriptor is answered politely: the request must get as far as the PREPARE.)
    bankA.handler = (req, res, body) => {
      if (req.method === "GET") politeHandler(req, res, body);
      else floods.push(flood(res, FLOOD_BYTES, FLOOD_CHUNK));
    };
    const { pid, url } = await startCoordinator();
    const before = peakResidentBytes(pid);

    const answer = await send(`${url}/v1/transactions`, "POST", {
      participants: [
        { name: "bank-a", operations: [{ op: "debit", account: "alice", amount: "100" }] },
        { name: "bank-b", operations: [{ op: "credit", account: "bob", amount: "100" }] },
      ],
    });
    const peak = peakResidentBytes(pid);
    const [first] = floods;
    expect(first, "bank-a was sent a PREPARE").to.not.equal(undefined);
    // The coordinator hung up on the PREPARE's reply long before the client was answered (it
    // waits for acknowledgements after the decision); bounded so a hung flood fails the test.
    const prepareFlood = first && (await within(first, 30_000));
    // Later floods (ABORT retries) may still be running: only the finished ones are judged.
    const finished = await Promise.all(floods.slice(1).map((f) => within(f, 0)));
    const sizes = [prepareFlood, ...finished].map((f) =>
      f ? `${(f.written / MiB).toFixed(1)} MiB` : "still open",
    );
    console.log(
      `      coordinator VmHWM ${(before / MiB).toFixed(1)} MiB at start, ${(peak / MiB).toFixed(1)} MiB after the transfer; ` +
        `written to bank-a's ${floods.length} replies: ${sizes.join(", ")}; ` +
        `answer (${answer.text.length} bytes) ${answer.text.slice(0, 300)}`,
    );

    expect(answer.status, answer.text.slice(0, 500)).to.equal(200);
    expect(answer.text.length, "the answer carries none of the flood").to.be.below(10_000);
    const body = JSON.parse(answer.text) as { outcome?: unknown };
    expect(body.outcome).to.equal("aborted");
    expect(prepareFlood, "the reply to the PREPARE stopped being read").to.not.equal(undefined);
    expect(prepareFlood?.cutOff, "the coordinator closed the connection mid-reply").to.equal(true);
    expect(
      prepareFlood?.written ?? Infinity,
      "bytes written before the coordinator hung up",
    ).to.be.below(50 * MiB);
    for (const f of finished)
      if (f)
        expect(f.written, "bytes written to a later request (ABORT retry)").to.be.below(50 * MiB);
    expect(peak, "the coordinator's peak resident memory").to.be.below(300 * MiB);
    expect((await send(`${url}/healthz`, "GET")).status, "the coordinator still answers").to.equal(
      200,
    );
  });

  it("a client that sends its body too slowly is cut off at the request timeout", async function () {
    this.timeout(120_000);
    const { url, port } = await startCoordinator({ CONCORD_REQUEST_TIMEOUT_MS: "1000" });
    const loggedBefore = await loggedTransactions(url);

    // A valid transfer, padded to 200 bytes, sent one byte every 200 ms: 40 s for the whole body.
    const transfer = JSON.stringify({
      participants: [
        { name: "bank-a", operations: [{ op: "debit", account: "alice", amount: "100" }] },
        { name: "bank-b", operations: [{ op: "credit", account: "bob", amount: "100" }] },
      ],
    });
    const body = transfer.padEnd(200, " ");
    expect(body.length).to.equal(200);
    const conn = await rawConnect(port);
    conn.socket.write(
      `POST /v1/transactions HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAuthorization: Bearer ${API_KEY}\r\n` +
        `Content-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`,
    );
    let sent = 0;
    try {
      while (sent < body.length && !conn.isClosed()) {
        conn.socket.write(body.charAt(sent));
        sent++;
        await Promise.race([sleep(200), conn.closed]);
      }
    } finally {
      conn.socket.destroy();
    }
    const received = conn.received();
    const statusLine = received.split("\r\n")[0] ?? "";
    console.log(
      `      cut off after ${sent} of ${body.length} body bytes; the server sent ${JSON.stringify(statusLine)}`,
    );
    expect(sent, "body bytes sent before the server closed the connection").to.be.below(
      body.length,
    );
    // Either a bare close or a 408: never an answer to the transaction (it was never whole).
    if (received.length > 0) expect(received).to.match(/^HTTP\/1\.1 408 /);
    expect(await loggedTransactions(url), "transactions in the log").to.equal(loggedBefore);
  });

  it("connections beyond CONCORD_MAX_CONNECTIONS are closed on arrival, and the service still answers once they go", async function () {
    this.timeout(120_000);
    // A request timeout far beyond the test, so the idle connections are not closed by it; the
    // headers timeout (10 s at most) still is, so the checks below run at once.
    const { url, port } = await startCoordinator({
      CONCORD_MAX_CONNECTIONS: "16",
      CONCORD_REQUEST_TIMEOUT_MS: "120000",
    });
    const held: RawConnection[] = [];
    const extra: RawConnection[] = [];
    try {
      for (let i = 0; i < 16; i++) held.push(await rawConnect(port));
      // The kernel completes the handshake before the server accepts: give its event loop a
      // moment to count all sixteen, so the extra ones below are the seventeenth and later.
      await sleep(300);
      for (let i = 0; i < 4; i++) extra.push(await rawConnect(port));
      for (const c of extra)
        c.socket.write(`GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`);
      await within(Promise.all(extra.map((c) => c.closed)), 5000);
      const extraClosed = extra.filter((c) => c.isClosed()).length;
      const heldClosed = held.filter((c) => c.isClosed()).length;
      console.log(
        `      extra connections closed by the server: ${extraClosed} of ${extra.length}; held ones closed: ${heldClosed} of 16`,
      );
      for (const c of extra) {
        expect(c.isClosed(), "an extra connection is closed by the server").to.equal(true);
        expect(c.received(), "an extra connection gets no HTTP answer").to.equal("");
      }
      expect(heldClosed, "the sixteen within the limit stay open").to.equal(0);
    } finally {
      for (const c of [...held, ...extra]) c.socket.destroy();
    }
    // Once they are gone the server takes connections again (it notices the closes on its own time).
    const healthy = async () => (await send(`${url}/healthz`, "GET")).status === 200;
    await waitUntil("the coordinator answering again", healthy, { timeoutMs: 10_000 });
    expect((await send(`${url}/healthz`, "GET")).status).to.equal(200);
  });
});
