import { expect } from "chai";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { request } from "node:http";
import { pino } from "pino";
import { createApp, finishApp, listen } from "../../shared/http-server.js";
import { drainAndClose, drainOf } from "../../shared/drain.js";
import { runSeries } from "../../coordinator/series.js";
import type { Engine, TransactionInput, TransactionResult } from "../../coordinator/engine.js";
import type { DurableLog } from "../../shared/durable-log.js";

const silent = pino({ level: "silent" });

interface Reply {
  status: number;
  connection: string | undefined;
  body: { error?: { code: string; message: string }; status?: string };
}

/** One request on a connection of its own. */
function get(url: string, path: string, method = "GET"): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(`${url}${path}`, { method, agent: false }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => (text += chunk));
      res.on("end", () => {
        resolve({
          status: res.statusCode ?? 0,
          connection: res.headers.connection,
          body: JSON.parse(text) as Reply["body"],
        });
      });
    });
    req.on("error", reject);
    req.end();
  });
}

describe("drain (shared/drain.ts)", function () {
  let server: Server;
  let url: string;
  let app: ReturnType<typeof createApp>;
  let release: () => void;
  let started: Promise<void>;

  beforeEach(async function () {
    app = createApp();
    let markStarted!: () => void;
    started = new Promise((r) => (markStarted = r));
    const held = new Promise<void>((r) => (release = r));
    app.get("/readyz", (req, res) => {
      res.status(drainOf(req.app).draining ? 503 : 200).json({ status: "probe" });
    });
    app.get("/slow", async (_req, res) => {
      markStarted();
      await held;
      res.json({ status: "done" });
    });
    app.get("/fast", (_req, res) => {
      res.json({ status: "done" });
    });
    finishApp(app, silent);
    server = await listen(app, "127.0.0.1", 0);
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterEach(function () {
    release();
    server.closeAllConnections();
    server.close();
  });

  it("refuses new requests with 503 draining and Connection: close, lets the accepted one finish, keeps the probes", async function () {
    const slow = get(url, "/slow");
    await started;
    let storesClosed = false;
    const drained = drainAndClose({
      app,
      server,
      logger: silent,
      timeoutMs: 30_000,
      stopBackground: () => undefined,
      leftTo: "recovery",
      closeStores: () => {
        storesClosed = true;
        return Promise.resolve();
      },
    });
    const refused = await get(url, "/fast");
    expect(refused.status).to.equal(503);
    expect(refused.connection).to.equal("close");
    expect(refused.body.error?.code).to.equal("draining");
    expect(refused.body.error?.message).to.match(/nothing was done; retry on another instance/);
    const refusedPost = await get(url, "/fast", "POST");
    expect(refusedPost.body.error?.code).to.equal("draining");
    expect((await get(url, "/readyz")).status).to.equal(503);
    expect(storesClosed, "stores closed while a request was in flight").to.equal(false);

    release();
    const answered = await slow;
    expect(answered.status).to.equal(200);
    expect(answered.body.status).to.equal("done");
    // The answer owed before the drain closes its connection.
    expect(answered.connection).to.equal("close");
    await drained;
    expect(storesClosed).to.equal(true);
    expect(server.listening).to.equal(false);
  });

  it("at the bound, leaves what still runs and closes the stores anyway", async function () {
    const slow = get(url, "/slow").catch((err: unknown) => err);
    await started;
    let storesClosed = false;
    await drainAndClose({
      app,
      server,
      logger: silent,
      timeoutMs: 50,
      stopBackground: () => undefined,
      busy: () => ["a-txid"],
      leftTo: "recovery",
      closeStores: () => {
        storesClosed = true;
        return Promise.resolve();
      },
    });
    expect(storesClosed).to.equal(true);
    expect(await slow).to.be.instanceOf(Error);
  });
});

describe("a series while draining (coordinator/series.ts)", function () {
  function conflictEngine(calls: TransactionInput[]): Engine {
    return {
      run: (input: TransactionInput): Promise<TransactionResult> => {
        calls.push(input);
        return Promise.resolve({
          txid: input.txid,
          outcome: "aborted",
          reason: "bank-a voted no: conflict",
          participants: [],
          abortCause: { participant: "bank-a", reason: "conflict" },
        });
      },
    } as unknown as Engine;
  }
  // Neither test sends an Idempotency-Key nor reaches a second attempt: the log is never used.
  const unusedLog = Object.create(null) as DurableLog;
  const input = {
    participants: [{ name: "bank-a", operations: [] }],
    timeoutMs: 60_000,
    maxAttempts: 20,
  };

  it("finishes its attempt and makes no new one, answering aborted with the reason", async function () {
    const calls: TransactionInput[] = [];
    const result = await runSeries(
      {
        engine: conflictEngine(calls),
        log: unusedLog,
        logger: silent,
        draining: () => true,
      },
      input,
    );
    expect(calls).to.have.length(1);
    expect(result.outcome).to.equal("aborted");
    expect(result.attempts).to.have.length(1);
    expect(result.reason).to.match(/bank-a: conflict; not retried: the coordinator is stopping/);
  });

  it("makes no new attempt when the drain began during the pause before it", async function () {
    const calls: TransactionInput[] = [];
    let asked = 0;
    const result = await runSeries(
      {
        engine: conflictEngine(calls),
        log: unusedLog,
        logger: silent,
        // Not draining before the pause, draining after it.
        draining: () => ++asked > 1,
        random: () => 0,
      },
      input,
    );
    expect(calls).to.have.length(1);
    expect(result.outcome).to.equal("aborted");
    expect(result.reason).to.match(/not retried/);
  });
});
