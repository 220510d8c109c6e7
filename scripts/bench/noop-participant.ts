/**
 * A participant that executes nothing and always votes yes, for the "coordination only" row:
 * what is left of a transaction's cost is the coordinator, its log and HTTP.
 *
 *   node dist/scripts/bench/noop-participant.js --name bank-a --port 7301
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { parseArgs, runCli, UsageError } from "../cli-args.js";

const USAGE = "usage: noop-participant --name <participant name> --port <port>";
const MAX_BODY_BYTES = 1 << 20;
const ROUTE = /^\/v1\/2pc\/([^/]+)\/(prepare|commit|abort|one-phase)$/;

function reply(res: ServerResponse, status: number, body: unknown): void {
  const payload = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(payload) });
  res.end(payload);
}

function answer(req: IncomingMessage, res: ServerResponse): void {
  const match = req.method === "POST" ? ROUTE.exec(req.url ?? "") : null;
  if (req.method === "GET" && req.url === "/healthz") return reply(res, 200, { status: "ok", role: "participant" });
  if (!match) return reply(res, 404, { error: { code: "not-found", message: `${req.method} ${req.url} is not served here` } });
  const txid = match[1] as string;
  switch (match[2]) {
    case "prepare":
      return reply(res, 200, { vote: "yes" });
    case "commit":
      return reply(res, 200, { txid, state: "committed" });
    case "abort":
      return reply(res, 200, { txid, state: "aborted" });
    default:
      // One-phase answers carry `outcome` for the coordinator's schema and `state` as the others do.
      return reply(res, 200, { txid, state: "committed", outcome: "committed" });
  }
}

async function main(): Promise<void> {
  const { flags } = parseArgs(process.argv.slice(2), { name: "string", port: "number" });
  const port = flags.port;
  if (typeof flags.name !== "string" || typeof port !== "number" || !Number.isInteger(port) || port < 1 || port > 65535) throw new UsageError("--name and --port are required");
  const server = createServer((req, res) => {
    let size = 0;
    // The body is read and dropped, bounded, so keep-alive connections stay usable.
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) req.destroy();
    });
    req.on("end", () => answer(req, res));
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", resolve);
  });
  await new Promise<void>((resolve) => {
    const stop = () => server.close(() => resolve());
    process.once("SIGTERM", stop);
    process.once("SIGINT", stop);
    // close() waits for idle keep-alive connections; drop them so the process exits promptly.
    process.once("SIGTERM", () => server.closeAllConnections());
    process.once("SIGINT", () => server.closeAllConnections());
  });
}

runCli("noop-participant", USAGE, main);
