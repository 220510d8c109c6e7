/**
 * In-test stand-ins for a bank participant: a node:http server on 127.0.0.1 that answers the
 * coordinator's 2PC messages the way a test needs (politely, or with a hostile reply), without a
 * PostgreSQL or a Redis behind it. They do not check the coordinator's signatures: what is under
 * test is the coordinator's handling of what comes back.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { NOOP_DESCRIPTOR, noopAnswer } from "../../scripts/bench/noop-answer.js";

/** Decides what one request gets; `body` is the request body as text (small: the coordinator's own). */
export type FakeHandler = (req: IncomingMessage, res: ServerResponse, body: string) => void;

export interface FakeParticipant {
  url: string;
  /** What each request was, in arrival order: `POST /v1/2pc/<txid>/prepare`, ... */
  readonly requests: string[];
  /** Swapped at run time, e.g. a hostile participant that turns polite to let recovery finish. */
  handler: FakeHandler;
  close(): Promise<void>;
}

export async function startFakeParticipant(handler: FakeHandler): Promise<FakeParticipant> {
  const requests: string[] = [];
  const fake: FakeParticipant = { url: "", requests, handler, close: () => Promise.resolve() };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      requests.push(`${req.method ?? "?"} ${req.url ?? "?"}`);
      fake.handler(req, res, Buffer.concat(chunks).toString("utf8"));
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      resolve();
    });
  });
  const address = server.address();
  if (address === null || typeof address !== "object")
    throw new Error("fake participant has no address");
  fake.url = `http://127.0.0.1:${address.port}`;
  fake.close = () =>
    new Promise<void>((resolve) => {
      // Keep-alive sockets from the coordinator and floods still being written would hold close() open.
      server.closeAllConnections();
      server.close(() => {
        resolve();
      });
    });
  return fake;
}

/** Answers single messages (`/v1/2pc/<txid>/<action>`) and batches (`/v1/2pc/batch`) as noopAnswer says. */
export const politeHandler: FakeHandler = (req, res, body) => {
  const path = (req.url ?? "").split("?")[0] ?? "";
  const send = (status: number, payload: unknown) => {
    res.writeHead(status, { "content-type": "application/json" });
    res.end(JSON.stringify(payload));
  };
  if (req.method === "GET" && path === "/healthz") {
    send(200, { ok: true });
    return;
  }
  if (req.method === "GET" && path === "/v1/descriptor") {
    send(200, NOOP_DESCRIPTOR);
    return;
  }
  if (req.method === "POST" && path === "/v1/2pc/batch") {
    // As the real batch route answers: one JSON line per message, {index, status, body}.
    const { messages } = JSON.parse(body) as { messages: { txid: string; action: string }[] };
    res.writeHead(200, { "content-type": "application/x-ndjson" });
    res.end(
      messages
        .map((m, index) => `${JSON.stringify({ index, ...noopAnswer(m.txid, m.action) })}\n`)
        .join(""),
    );
    return;
  }
  const match = /^\/v1\/2pc\/([0-9a-f-]+)\/([a-z-]+)$/.exec(path);
  if (req.method === "POST" && match?.[1] !== undefined && match[2] !== undefined) {
    const { status, body: reply } = noopAnswer(match[1], match[2]);
    send(status, reply);
    return;
  }
  send(404, { error: { code: "not-found", message: `no route for ${req.method ?? "?"} ${path}` } });
};

export interface FloodResult {
  /** Bytes handed to the socket (at most one chunk plus the stream's buffer beyond what the kernel took). */
  written: number;
  /** True when the connection closed before the flood was all written: the reader gave up. */
  cutOff: boolean;
}

/**
 * Streams `totalBytes` of JSON-looking text as a chunked 200 reply, `chunkBytes` at a time,
 * respecting backpressure, and stops as soon as the connection closes. Resolves when it stops.
 */
export async function flood(
  res: ServerResponse,
  totalBytes: number,
  chunkBytes: number,
): Promise<FloodResult> {
  // A plausible start (an object with a string that never ends), then filler: a reader that
  // waits for the whole body to parse it keeps all of it.
  const head = Buffer.alloc(chunkBytes, "x");
  head.write('{"vote":"yes","reason":"');
  const filler = Buffer.alloc(chunkBytes, "x");
  res.writeHead(200, { "content-type": "application/json", "transfer-encoding": "chunked" });
  // Set by the listener, whenever the connection closes: read through `isClosed`, since nothing
  // in this function's own flow changes it.
  let closed = false;
  res.once("close", () => {
    closed = true;
  });
  const isClosed = (): boolean => closed;
  let written = 0;
  while (!isClosed() && written < totalBytes) {
    const flowing = res.write(written === 0 ? head : filler);
    written += chunkBytes;
    if (!flowing && !isClosed()) await drainOrClose(res);
  }
  const cutOff = isClosed() && written < totalBytes;
  if (!isClosed()) res.end();
  return { written, cutOff };
}

function drainOrClose(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off("drain", done);
      res.off("close", done);
      resolve();
    };
    res.on("drain", done);
    res.on("close", done);
  });
}
