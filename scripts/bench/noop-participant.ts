/**
 * A participant that executes nothing and always votes yes, for the "coordination only" row:
 * what is left of a transaction's cost is the coordinator, its log and HTTP.
 *
 *   node dist/scripts/bench/noop-participant.js --name bank-a --port 7301
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { ReplayGuard, SIGNATURE_HEADER, verifyRequest } from "../../shared/request-signing.js";
import { parseArgs, runCli, UsageError } from "../cli-args.js";
import { NOOP_DESCRIPTOR, noopAnswer } from "./noop-answer.js";

const USAGE = "usage: noop-participant --name <participant name> --port <port>";
const MAX_BODY_BYTES = 1 << 20;
const ROUTE = /^\/v1\/2pc\/([^/]+)\/(prepare|commit|abort|one-phase)$/;

function reply(res: ServerResponse, status: number, body: unknown): void {
  const payload = JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(payload),
  });
  res.end(payload);
}

function answer(req: IncomingMessage, res: ServerResponse, body: string): void {
  if (req.method === "GET" && req.url === "/healthz") {
    reply(res, 200, { status: "ok", role: "participant" });
    return;
  }
  if (req.method === "GET" && req.url === "/v1/descriptor") {
    reply(res, 200, NOOP_DESCRIPTOR);
    return;
  }
  if (req.method === "POST" && req.url === "/v1/2pc/batch") {
    // The same answer as the real participant's batch route (a JSON line per message); the
    // messages are not validated.
    const messages = (JSON.parse(body) as { messages: { txid: string; action: string }[] })
      .messages;
    const lines = messages
      .map((m, index) => `${JSON.stringify({ index, ...noopAnswer(m.txid, m.action) })}\n`)
      .join("");
    res.writeHead(200, {
      "content-type": "application/x-ndjson",
      "content-length": Buffer.byteLength(lines),
    });
    res.end(lines);
    return;
  }
  const match = req.method === "POST" ? ROUTE.exec(req.url ?? "") : null;
  if (!match) {
    reply(res, 404, {
      error: { code: "not-found", message: `${req.method} ${req.url} is not served here` },
    });
    return;
  }
  const { status, body: out } = noopAnswer(match[1] as string, match[2] as string);
  reply(res, status, out);
}

function parseFlags(): { name: string; port: number } {
  const { flags } = parseArgs(process.argv.slice(2), { name: "string", port: "number" });
  const port = flags.port;
  if (
    typeof flags.name !== "string" ||
    typeof port !== "number" ||
    !Number.isInteger(port) ||
    port < 1 ||
    port > 65535
  )
    throw new UsageError("--name and --port are required");
  return { name: flags.name, port };
}

function participantSecret(): string {
  const secret = process.env.CONCORD_PARTICIPANT_SECRET ?? "";
  if (secret.length < 32)
    throw new UsageError(
      "CONCORD_PARTICIPANT_SECRET (at least 32 characters) must be set: requests are checked as a real participant checks them",
    );
  return secret;
}

/** Why the coordinator's signature on a 2PC request is refused, or undefined when it is good. */
function signatureRefusal(
  req: IncomingMessage,
  body: Buffer,
  auth: { name: string; secret: string; replay: ReplayGuard },
): string | undefined {
  const check = verifyRequest({
    header: req.headers[SIGNATURE_HEADER] as string | undefined,
    secretFor: (k) => (k === "coordinator" ? auth.secret : undefined),
    audience: auth.name,
    method: req.method ?? "",
    path: req.url ?? "",
    body,
    contentType: req.headers["content-type"] ?? "",
    contentEncoding: req.headers["content-encoding"] ?? "",
    replay: auth.replay,
  });
  return check.ok ? undefined : check.reason;
}

/** Resolves once SIGTERM or SIGINT has closed the server. */
function closedOnSignal(server: Server): Promise<void> {
  return new Promise<void>((resolve) => {
    const stop = () =>
      server.close(() => {
        resolve();
      });
    process.once("SIGTERM", stop);
    process.once("SIGINT", stop);
    // close() waits for idle keep-alive connections; drop them so the process exits promptly.
    process.once("SIGTERM", () => {
      server.closeAllConnections();
    });
    process.once("SIGINT", () => {
      server.closeAllConnections();
    });
  });
}

async function main(): Promise<undefined> {
  const { name, port } = parseFlags();
  const auth = { name, secret: participantSecret(), replay: new ReplayGuard() };
  const server = createServer((req, res) => {
    let size = 0;
    const chunks: Buffer[] = [];
    // The body is read whole, bounded, so keep-alive connections stay usable; only a batch's is parsed.
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) req.destroy();
      else chunks.push(chunk);
    });
    req.on("end", () => {
      try {
        const body = Buffer.concat(chunks);
        if (req.url?.startsWith("/v1/2pc")) {
          const refusal = signatureRefusal(req, body, auth);
          if (refusal !== undefined) {
            reply(res, 401, {
              error: { code: "unauthorized", message: `request signature refused: ${refusal}` },
            });
            return;
          }
        }
        answer(req, res, body.toString("utf8"));
      } catch (err) {
        reply(res, 400, { error: { code: "invalid-body", message: String(err) } });
      }
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", resolve);
  });
  await closedOnSignal(server);
}

runCli("noop-participant", USAGE, main);
