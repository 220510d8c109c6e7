/**
 * The client library against a tiny HTTP server started here, whose answers each test scripts:
 * what is retried (no answer, 503) and with which Idempotency-Key, what is not (4xx), the
 * deadline, and how answers are parsed into results and errors.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { expect } from "chai";
import {
  CoordinatorClient,
  CoordinatorRequestError,
  CoordinatorResponseError,
  CoordinatorUnavailableError,
  type RunResult,
} from "../../shared/client/index.js";
import { monotonicMs } from "../../shared/clock.js";

interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage["headers"];
  body: string;
}

/** Answers the n-th request (0-based) with `script(n, seen)`; keeps every request seen. */
type Script = (n: number, req: Seen, res: ServerResponse) => void;

const TXID = "0190a6d2-6b1e-7c3a-9f00-2c5e1a7b8d90";
const PARTS = [
  { name: "bank-a", operations: [{ op: "debit", account: "alice", amount: "100" }] },
  { name: "bank-b", operations: [{ op: "credit", account: "bob", amount: "100" }] },
];

function json(res: ServerResponse, status: number, body: unknown, headers = {}): void {
  res.writeHead(status, { "content-type": "application/json", ...headers });
  res.end(JSON.stringify(body));
}

/** The error `work` rejects with, checked to be a `kind` (a resolve fails the test). */
async function rejected<T>(
  work: Promise<unknown>,
  kind: abstract new (...args: never[]) => T,
): Promise<T> {
  const outcome = await work.then(
    (value: unknown) => ({ value }),
    (error: unknown) => ({ error }),
  );
  if (!("error" in outcome))
    throw new Error(`expected a rejection, got ${JSON.stringify(outcome)}`);
  if (!(outcome.error instanceof kind)) throw outcome.error;
  return outcome.error;
}

const committed = {
  txid: TXID,
  outcome: "committed",
  participants: [
    { name: "bank-a", vote: "yes", state: "committed" },
    { name: "bank-b", vote: "yes", state: "committed" },
  ],
  attempts: [{ txid: TXID, outcome: "committed" }],
};

describe("coordinator client (against a local HTTP server)", function () {
  let server: Server;
  let url: string;
  let script: Script;
  let seen: Seen[];
  let client: CoordinatorClient;

  before(async function () {
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const s: Seen = {
          method: req.method ?? "",
          url: req.url ?? "",
          headers: req.headers,
          body: Buffer.concat(chunks).toString("utf8"),
        };
        seen.push(s);
        script(seen.length - 1, s, res);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  after(async function () {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  beforeEach(function () {
    seen = [];
    client = new CoordinatorClient({
      url,
      apiKey: "key-1",
      retries: 3,
      backoff: { baseMs: 5, capMs: 20 },
      timeoutMs: 2000,
    });
  });

  afterEach(async function () {
    await client.close();
  });

  it("sends the API key and an automatic UUID v4 Idempotency-Key, and parses a commit", async function () {
    script = (_n, _req, res) => {
      json(res, 200, committed);
    };
    const r = await client.run({ participants: PARTS, timeoutMs: 3000 });
    expect(r.outcome).to.equal("committed");
    expect(r.txid).to.equal(TXID);
    expect(r.replayed).to.equal(false);
    expect(r.participants.map((p) => p.vote)).to.deep.equal(["yes", "yes"]);
    expect(seen).to.have.length(1);
    const req = seen[0] as Seen;
    expect(req.method).to.equal("POST");
    expect(req.url).to.equal("/v1/transactions");
    expect(req.headers.authorization).to.equal("Bearer key-1");
    expect(req.headers["idempotency-key"]).to.match(
      /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    );
    expect(r.idempotencyKey).to.equal(req.headers["idempotency-key"]);
    expect(JSON.parse(req.body)).to.deep.equal({ participants: PARTS, timeoutMs: 3000 });
  });

  it("runs again with the same key and the same body after a 503", async function () {
    script = (n, _req, res) => {
      if (n < 2) json(res, 503, { error: { code: "unavailable", message: "log down" } });
      else json(res, 200, committed, { "idempotent-replayed": "true" });
    };
    const r = await client.run({ participants: PARTS, idempotencyKey: "order-17" });
    expect(r.outcome).to.equal("committed");
    expect(r.replayed).to.equal(true);
    expect(seen.map((s) => s.headers["idempotency-key"])).to.deep.equal([
      "order-17",
      "order-17",
      "order-17",
    ]);
    expect(new Set(seen.map((s) => s.body)).size).to.equal(1);
  });

  it("runs again with the same key after a dropped connection", async function () {
    script = (n, _req, res) => {
      if (n === 0) res.socket?.destroy();
      else json(res, 200, committed);
    };
    const r = await client.run({ participants: PARTS });
    expect(r.outcome).to.equal("committed");
    expect(seen).to.have.length(2);
    const [first, second] = seen as [Seen, Seen];
    expect(second.headers["idempotency-key"]).to.equal(first.headers["idempotency-key"]);
    expect(second.body).to.equal(first.body);
  });

  it("runs again with the same key after an attempt that got no answer in time", async function () {
    const quick = new CoordinatorClient({
      url,
      apiKey: "key-1",
      retries: 2,
      timeoutMs: 200,
      backoff: { baseMs: 5, capMs: 20 },
    });
    script = (n, _req, res) => {
      if (n > 0) json(res, 200, committed, { "idempotent-replayed": "true" });
    };
    const r = await quick.run({ participants: PARTS, timeoutMs: 5000 });
    await quick.close();
    expect([r.outcome, r.replayed]).to.deep.equal(["committed", true]);
    expect(seen).to.have.length(2);
    const [first, second] = seen as [Seen, Seen];
    expect(second.headers["idempotency-key"]).to.equal(first.headers["idempotency-key"]);
  });

  it("idempotent: false sends no key and never resends, even after a 503", async function () {
    script = (_n, _req, res) => {
      json(res, 503, { error: { code: "unavailable", message: "down" } });
    };
    const e = await rejected(
      client.run({ participants: PARTS, idempotent: false }),
      CoordinatorUnavailableError,
    );
    expect([e.lastStatus, e.idempotencyKey]).to.deep.equal([503, undefined]);
    expect(seen).to.have.length(1);
    expect(seen[0]?.headers).not.to.have.property("idempotency-key");
  });

  it("does not retry a 400: it throws a typed error with the code and field", async function () {
    script = (_n, _req, res) => {
      json(res, 400, {
        error: { code: "invalid-request", message: "bad name", field: "body.participants.0.name" },
      });
    };
    const e = await rejected(client.run({ participants: PARTS }), CoordinatorRequestError);
    expect([e.status, e.code, e.known, e.field]).to.deep.equal([
      400,
      "invalid-request",
      "invalid-request",
      "body.participants.0.name",
    ]);
    expect(seen).to.have.length(1);
  });

  it("does not retry a 409 or a 429; a 429 carries its limit and Retry-After", async function () {
    script = (_n, _req, res) => {
      json(
        res,
        429,
        { error: { code: "too-many-requests", message: "slow down", limit: "rate" } },
        { "retry-after": "2" },
      );
    };
    const r = await rejected(client.run({ participants: PARTS }), CoordinatorRequestError);
    expect([r.status, r.limit, r.retryAfterSeconds]).to.deep.equal([429, "rate", 2]);
    expect(seen).to.have.length(1);
  });

  it("a participant's client fault: a typed error that carries the aborted transaction", async function () {
    script = (_n, _req, res) => {
      json(res, 422, {
        ...committed,
        outcome: "aborted",
        participants: [{ name: "bank-a", vote: "no", state: "aborted", reason: "unknown-account" }],
        attempts: [{ txid: TXID, outcome: "aborted", reason: "bank-a: unknown-account" }],
        error: { code: "unknown-account", message: "no account", participant: "bank-a" },
      });
    };
    const r = await rejected(client.run({ participants: PARTS }), CoordinatorRequestError);
    expect([r.status, r.code, r.known, r.participant]).to.deep.equal([
      422,
      "unknown-account",
      undefined,
      "bank-a",
    ]);
    expect(r.answer?.txid).to.equal(TXID);
    expect(r.answer?.outcome).to.equal("aborted");
  });

  it("parses an abort: the reason and the participant that refused", async function () {
    script = (_n, _req, res) => {
      json(res, 200, {
        txid: TXID,
        outcome: "aborted",
        reason: "bank-a: insufficient-funds",
        participants: [
          { name: "bank-a", vote: "no", state: "aborted", reason: "insufficient-funds" },
          { name: "bank-b", vote: "yes", state: "aborted" },
        ],
        attempts: [{ txid: TXID, outcome: "aborted", reason: "bank-a: insufficient-funds" }],
      });
    };
    const r: RunResult = await client.run({ participants: PARTS });
    if (r.outcome !== "aborted") throw new Error(`expected an abort, got ${r.outcome}`);
    expect(r.reason).to.equal("bank-a: insufficient-funds");
    expect(r.refusedBy).to.deep.equal({ participant: "bank-a", reason: "insufficient-funds" });
  });

  it("a 503 outcome-unknown every time: an unknown result, after every attempt", async function () {
    script = (_n, _req, res) => {
      json(res, 503, {
        txid: TXID,
        outcome: "unknown",
        reason: "decision not recorded",
        participants: [],
        attempts: [{ txid: TXID, outcome: "unknown" }],
        error: { code: "outcome-unknown", message: "decision not recorded" },
      });
    };
    const r = await client.run({ participants: PARTS });
    expect(r.outcome).to.equal("unknown");
    expect(r.txid).to.equal(TXID);
    expect(seen).to.have.length(4);
  });

  it("no answer at all: CoordinatorUnavailableError with the key, after the bounded attempts", async function () {
    script = (_n, _req, res) => res.socket?.destroy();
    const u = await rejected(
      client.run({ participants: PARTS, idempotencyKey: "k-9" }),
      CoordinatorUnavailableError,
    );
    expect([u.attempts, u.idempotencyKey]).to.deep.equal([4, "k-9"]);
    expect(seen).to.have.length(4);
  });

  it("respects the deadline: a server that never answers is given up on at the deadline", async function () {
    script = () => {
      /* never answers */
    };
    // One attempt may take 20 s: the deadline, not the attempt's bound, ends the call.
    const patient = new CoordinatorClient({ url, apiKey: "key-1", retries: 3, timeoutMs: 20_000 });
    const t0 = monotonicMs();
    await rejected(
      patient.run({ participants: PARTS, deadlineMs: 600 }),
      CoordinatorUnavailableError,
    );
    const took = monotonicMs() - t0;
    await patient.close();
    // Bounded above loosely: a loaded machine delays timers.
    expect(took).to.be.within(550, 3000);
    expect(seen).to.have.length(1);
  });

  it("stops retrying 503s when the next backoff would pass the deadline", async function () {
    const slow = new CoordinatorClient({
      url,
      apiKey: "key-1",
      retries: 50,
      backoff: { baseMs: 200, capMs: 200 },
    });
    script = (_n, _req, res) => {
      json(res, 503, { error: { code: "unavailable", message: "down" } });
    };
    const t0 = monotonicMs();
    const e = await rejected(
      slow.run({ participants: PARTS, deadlineMs: 500 }),
      CoordinatorUnavailableError,
    );
    await slow.close();
    expect(e.lastStatus).to.equal(503);
    expect(monotonicMs() - t0).to.be.below(700);
    expect(seen.length).to.be.within(2, 5);
  });

  it("get and list: typed, with the query, and a 404 as a typed error", async function () {
    const detail = {
      txid: TXID,
      state: "committed",
      decision: "commit",
      reason: null,
      createdAt: "2026-01-01T00:00:00.000Z",
      timeoutMs: 5000,
      series: TXID,
      attempt: 1,
      previousAttempt: null,
      nextAttempt: null,
      participants: [{ name: "bank-a", vote: "yes", acknowledgedAt: null }],
      events: [{ type: "begin", at: "2026-01-01T00:00:00.000Z", data: {} }],
    };
    const summary = { ...detail, participants: ["bank-a"] };
    script = (_n, req, res) => {
      if (req.url === `/v1/transactions/${TXID}`) json(res, 200, detail);
      else if (req.url.startsWith("/v1/transactions?")) json(res, 200, { transactions: [summary] });
      else json(res, 404, { error: { code: "not-found", message: "no such transaction" } });
    };
    const tx = await client.get(TXID);
    expect([tx.state, tx.decision, tx.participants[0]?.vote]).to.deep.equal([
      "committed",
      "commit",
      "yes",
    ]);
    const list = await client.list({ state: "committed", limit: 5 });
    expect(list.map((t) => t.txid)).to.deep.equal([TXID]);
    expect(seen[1]?.url).to.equal("/v1/transactions?state=committed&limit=5");
    const e = await rejected(client.get("nope"), CoordinatorRequestError);
    expect([e.status, e.known]).to.deep.equal([404, "not-found"]);
  });

  it("an answer of the wrong shape is a CoordinatorResponseError, not a result", async function () {
    script = (_n, _req, res) => {
      json(res, 200, { txid: TXID, outcome: "maybe" });
    };
    await rejected(client.run({ participants: PARTS }), CoordinatorResponseError);
  });
});
