/**
 * The fault proxy of the chaos runner, over real sockets on 127.0.0.1: a tiny HTTP target counts
 * the requests it receives, so each fault is checked from both ends — what the client saw, and
 * whether the request was applied behind the fault.
 */
import http from "node:http";
import net from "node:net";
import { performance } from "node:perf_hooks";
import { expect } from "chai";
import { FaultProxy } from "../../scripts/chaos/fault-proxy.js";

const HOST = "127.0.0.1";
/** Only turns a hang into a failure; no test asserts how fast anything is. */
const REQUEST_TIMEOUT_MS = 5_000;

interface Reply {
  readonly status: number;
  readonly body: string;
  readonly reusedSocket: boolean;
}

/** A target that answers every request with how many it has seen, so a lost reply is still counted. */
class CountingTarget {
  requests = 0;
  private readonly server = http.createServer((req, res) => {
    this.requests += 1;
    const seen = this.requests;
    req.resume();
    req.on("end", () => res.end(`seen ${seen}`));
  });

  async start(): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen(0, HOST, () => {
        resolve();
      });
    });
    return (this.server.address() as net.AddressInfo).port;
  }

  async stop(): Promise<void> {
    // Keep-alive connections would otherwise hold close() open until they time out.
    this.server.closeAllConnections();
    await new Promise<void>((resolve) =>
      this.server.close(() => {
        resolve();
      }),
    );
  }
}

function get(port: number, agent: http.Agent | false = false): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: HOST, port, path: "/", method: "POST", agent, timeout: REQUEST_TIMEOUT_MS },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => (body += chunk));
        res.on("end", () => {
          resolve({ status: res.statusCode ?? 0, body, reusedSocket: req.reusedSocket });
        });
        res.on("error", reject);
      },
    );
    req.on("timeout", () => req.destroy(new Error(`no reply within ${REQUEST_TIMEOUT_MS} ms`)));
    req.on("error", reject);
    req.end("transfer");
  });
}

async function failureOf(request: Promise<unknown>): Promise<NodeJS.ErrnoException> {
  try {
    await request;
  } catch (err) {
    return err as NodeJS.ErrnoException;
  }
  expect.fail("the request was expected to fail");
}

function connectError(port: number): Promise<NodeJS.ErrnoException | undefined> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: HOST, port });
    socket.once("connect", () => {
      socket.destroy();
      resolve(undefined);
    });
    socket.once("error", (err) => {
      resolve(err);
    });
  });
}

describe("fault proxy", () => {
  const target = new CountingTarget();
  let targetPort = 0;
  let proxy: FaultProxy;
  let proxyPort = 0;

  before(async () => {
    targetPort = await target.start();
  });

  after(async () => {
    await target.stop();
  });

  beforeEach(async () => {
    target.requests = 0;
    proxy = new FaultProxy({ targetHost: HOST, targetPort });
    proxyPort = await proxy.start();
  });

  afterEach(async () => {
    await proxy.stop();
  });

  it("pass forwards requests and replies, reusing a keep-alive connection", async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const first = await get(proxyPort, agent);
      const second = await get(proxyPort, agent);
      expect(first).to.deep.include({ status: 200, body: "seen 1", reusedSocket: false });
      expect(second).to.deep.include({ status: 200, body: "seen 2", reusedSocket: true });
      expect(target.requests).to.equal(2);
      expect(proxy.stats.connections).to.equal(1);
    } finally {
      agent.destroy();
    }
  });

  it("delay holds the request and the reply for at least the delay, and both still arrive", async () => {
    const delayMs = 150;
    await proxy.setMode({ kind: "delay", ms: delayMs });
    const startedMs = performance.now();
    const reply = await get(proxyPort);
    const elapsedMs = performance.now() - startedMs;
    expect(reply).to.deep.include({ status: 200, body: "seen 1" });
    expect(target.requests).to.equal(1);
    expect(elapsedMs).to.be.at.least(delayMs);
  });

  it("drop-reply: the target applied the request but the client gets a hang-up instead of the reply", async () => {
    await proxy.setMode({ kind: "drop-reply" });
    const err = await failureOf(get(proxyPort));
    expect(err.code).to.equal("ECONNRESET");
    expect(target.requests).to.equal(1);
    expect(proxy.stats.droppedReplies).to.equal(1);
    // Without a count every reply is lost.
    await failureOf(get(proxyPort));
    expect(target.requests).to.equal(2);
    expect(proxy.mode).to.deep.equal({ kind: "drop-reply" });
  });

  it("drop-reply with count 1 loses one reply, then passes the next request", async () => {
    await proxy.setMode({ kind: "drop-reply", count: 1 });
    await failureOf(get(proxyPort));
    expect(target.requests).to.equal(1);
    expect(proxy.mode).to.deep.equal({ kind: "pass" });
    const reply = await get(proxyPort);
    expect(reply).to.deep.include({ status: 200, body: "seen 2" });
    expect(proxy.stats.droppedReplies).to.equal(1);
  });

  it("reset: the client's connection is reset and the target sees nothing", async () => {
    await proxy.setMode({ kind: "reset" });
    const err = await failureOf(get(proxyPort));
    expect(err.code).to.be.oneOf(["ECONNRESET", "EPIPE"]);
    expect(target.requests).to.equal(0);
    expect(proxy.stats.resets).to.be.at.least(1);
  });

  it("reset: switching to it resets an open keep-alive connection", async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      await get(proxyPort, agent);
      await proxy.setMode({ kind: "reset" });
      await failureOf(get(proxyPort, agent));
      expect(target.requests).to.equal(1);
      expect(proxy.stats.resets).to.be.at.least(1);
    } finally {
      agent.destroy();
    }
  });

  it("refuse: connecting fails with ECONNREFUSED, the target sees nothing, and pass reopens the same port", async () => {
    await proxy.setMode({ kind: "refuse" });
    const err = await failureOf(get(proxyPort));
    expect(err.code).to.equal("ECONNREFUSED");
    expect(target.requests).to.equal(0);
    expect(proxy.stats.refusedPeriods).to.equal(1);

    await proxy.setMode({ kind: "pass" });
    const reply = await get(proxyPort);
    expect(reply).to.deep.include({ status: 200, body: "seen 1" });
  });

  it("setMode is idempotent: a second refuse neither fails nor counts another period", async () => {
    await proxy.setMode({ kind: "refuse" });
    await proxy.setMode({ kind: "refuse" });
    expect(proxy.stats.refusedPeriods).to.equal(1);
    await proxy.setMode({ kind: "pass" });
    await proxy.setMode({ kind: "pass" });
    expect((await get(proxyPort)).status).to.equal(200);
  });

  it("switching between pass and delay keeps an open keep-alive connection", async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      await get(proxyPort, agent);
      await proxy.setMode({ kind: "delay", ms: 20 });
      const delayed = await get(proxyPort, agent);
      await proxy.setMode({ kind: "pass" });
      const passed = await get(proxyPort, agent);
      expect(delayed).to.deep.include({ status: 200, reusedSocket: true });
      expect(passed).to.deep.include({ status: 200, reusedSocket: true });
      expect(proxy.stats.connections).to.equal(1);
    } finally {
      agent.destroy();
    }
  });

  it("a target that is down closes the client's connection without bringing the proxy down", async () => {
    const closed = new CountingTarget();
    const deadPort = await closed.start();
    await closed.stop();
    const orphan = new FaultProxy({ targetHost: HOST, targetPort: deadPort });
    try {
      const orphanPort = await orphan.start();
      await failureOf(get(orphanPort));
      await failureOf(get(orphanPort));
      expect(orphan.stats.connections).to.equal(2);
    } finally {
      await orphan.stop();
    }
  });

  it("stop closes the port", async () => {
    await proxy.stop();
    const err = await connectError(proxyPort);
    expect(err?.code).to.equal("ECONNREFUSED");
  });

  it("a listenHost that is not a loopback address is rejected", () => {
    for (const listenHost of [
      "0.0.0.0",
      "::",
      "10.0.0.1",
      "192.168.1.20",
      "localhost",
      "128.0.0.1",
    ]) {
      expect(
        () => new FaultProxy({ targetHost: HOST, targetPort, listenHost }),
        listenHost,
      ).to.throw(Error, /loopback/);
    }
    for (const listenHost of ["127.0.0.1", "127.1.2.3", "::1"]) {
      expect(
        () => new FaultProxy({ targetHost: HOST, targetPort, listenHost }),
        listenHost,
      ).not.to.throw();
    }
  });
});
