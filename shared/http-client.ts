import { Agent, request, type Dispatcher } from "undici";
import type { Signer } from "./auth.js";
import { StringDecoder } from "node:string_decoder";
import { parseJsonSafely } from "./safe-json.js";
import { DESCRIPTOR_HASH_HEADER } from "./participant-descriptor.js";

/**
 * One HTTP client per process, with keep-alive: a new TCP connection per 2PC message would
 * cost more than the message. Non-2xx answers are returned, not thrown, so callers decide what
 * a status means in their protocol step.
 *
 * Built on undici rather than axios: on the benchmark's 2-core machine axios's per-request
 * config merging and stream plumbing cost about a sixth of the coordinator's CPU (profile in
 * the README's performance section), and undici writes headers and body in one syscall.
 */
export interface HttpReply<T = unknown> {
  status: number;
  data: T;
  /** The participant's descriptor hash, when the answer names it (participant-descriptor.ts). */
  operationsHash?: string;
}

export interface HttpClient {
  /** `sign`, when given, adds the headers that authenticate this exact request. */
  post<T = unknown>(
    url: string,
    body: unknown,
    timeoutMs: number,
    sign?: Signer,
  ): Promise<HttpReply<T>>;
  /**
   * POST a body that is JSON text already (serialized once by the caller, sent as is).
   * `headers`: extra headers outside the signature (the request id and the Idempotency-Key
   * forwarded for the logs).
   */
  postJson<T = unknown>(
    url: string,
    json: string,
    timeoutMs: number,
    sign?: Signer,
    headers?: Record<string, string>,
  ): Promise<HttpReply<T>>;
  get<T = unknown>(url: string, timeoutMs: number, sign?: Signer): Promise<HttpReply<T>>;
  /**
   * POST JSON text and read an NDJSON reply (`application/x-ndjson`) line by line as it arrives,
   * calling `onLine` with each parsed line; resolves when the reply ends. A reply of any other type
   * is read whole and returned as `post` would, with `onLine` never called.
   */
  postLines<T = unknown>(
    url: string,
    json: string,
    timeoutMs: number,
    sign: Signer | undefined,
    onLine: (line: unknown) => void,
    headers?: Record<string, string>,
  ): Promise<HttpReply<T>>;
  close(): Promise<void>;
}

/** Thrown when no HTTP answer arrived at all (refused, reset, timed out). */
export class TransportError extends Error {
  constructor(
    readonly url: string,
    override readonly cause: unknown,
  ) {
    super(`no answer from ${url}: ${cause instanceof Error ? cause.message : String(cause)}`);
    this.name = "TransportError";
  }
}

/**
 * Replies larger than this are refused: no peer of ours sends one, and memory is bounded. Counted
 * on the bytes as they arrive, whatever Content-Length says or whether there is one (a chunked
 * reply of 400 MiB from a compromised participant grew the coordinator to 2.6 GB when only the
 * declared length was checked).
 */
export const MAX_REPLY_BYTES = 1024 * 1024;
const JSON_HEADERS = { "content-type": "application/json" };

export function createHttpClient(
  p: { maxSockets?: number; maxReplyBytes?: number } = {},
): HttpClient {
  const agent = new Agent({
    connections: p.maxSockets ?? 256,
    keepAliveTimeout: 30_000,
    pipelining: 1,
  });
  const maxReplyBytes = p.maxReplyBytes ?? MAX_REPLY_BYTES;

  const send = async <T>(
    url: string,
    method: "GET" | "POST",
    body: string | undefined,
    timeoutMs: number,
    sign: Signer | undefined,
    onLine?: (line: unknown) => void,
    extra: Record<string, string> = {},
  ): Promise<HttpReply<T>> => {
    let reply;
    try {
      const headers: Record<string, string> = body !== undefined ? JSON_HEADERS : {};
      const signed = sign
        ? sign(method, pathOf(url), body ?? "", headers["content-type"] ?? "")
        : {};
      reply = await request(url, {
        method,
        dispatcher: agent,
        headers: { ...extra, ...headers, ...signed },
        ...(body !== undefined ? { body } : {}),
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
      });
    } catch (err) {
      throw new TransportError(url, err);
    }
    return readReply<T>(url, reply, maxReplyBytes, onLine);
  };

  return {
    post: <T>(url: string, body: unknown, timeoutMs: number, sign?: Signer) =>
      send<T>(url, "POST", JSON.stringify(body), timeoutMs, sign),
    postJson: <T>(
      url: string,
      json: string,
      timeoutMs: number,
      sign?: Signer,
      headers?: Record<string, string>,
    ) => send<T>(url, "POST", json, timeoutMs, sign, undefined, headers),
    get: <T>(url: string, timeoutMs: number, sign?: Signer) =>
      send<T>(url, "GET", undefined, timeoutMs, sign),
    postLines: <T>(
      url: string,
      json: string,
      timeoutMs: number,
      sign: Signer | undefined,
      onLine: (line: unknown) => void,
      headers?: Record<string, string>,
    ) => send<T>(url, "POST", json, timeoutMs, sign, onLine, headers),
    close: () => agent.close(),
  };
}

/** The reply's body, read within the bound (NDJSON line by line to `onLine`), and its status. */
async function readReply<T>(
  url: string,
  reply: Dispatcher.ResponseData,
  maxReplyBytes: number,
  onLine: ((line: unknown) => void) | undefined,
): Promise<HttpReply<T>> {
  const type = String(reply.headers["content-type"] ?? "");
  let text: string;
  try {
    text = await readBounded(
      reply.body,
      maxReplyBytes,
      onLine && type.startsWith(NDJSON) ? onLine : undefined,
    );
  } catch (err) {
    throw new TransportError(url, err);
  }
  const hash = reply.headers[DESCRIPTOR_HASH_HEADER];
  return {
    status: reply.statusCode,
    data: parseBody(text, reply.headers["content-type"]) as T,
    ...(typeof hash === "string" ? { operationsHash: hash } : {}),
  };
}

/**
 * The path and query a server sees (what a signature covers). Our URLs are built from a
 * configured origin and a path we compose, so a slice after the origin is enough on the hot path.
 */
function pathOf(url: string): string {
  const start = url.indexOf("/", url.indexOf("//") + 2);
  return start < 0 ? "/" : url.slice(start);
}

export const NDJSON = "application/x-ndjson";

/**
 * Reads a reply body up to `maxBytes`; past that it destroys the stream (closing the connection)
 * and throws. With `onLine`, each complete line is parsed and handed over as it arrives (what is
 * returned is then only an unterminated rest); a line that is not JSON is skipped.
 */
async function readBounded(
  stream: AsyncIterable<Buffer> & { destroy(err?: Error): void },
  maxBytes: number,
  onLine?: (line: unknown) => void,
): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  let pending = "";
  // A character split between two chunks must not be cut in half.
  const decoder = new StringDecoder("utf8");
  for await (const chunk of stream) {
    size += chunk.length;
    if (size > maxBytes) {
      const err = new Error(`reply exceeds ${maxBytes} bytes; the rest was not read`);
      stream.destroy(err);
      throw err;
    }
    if (!onLine) {
      chunks.push(chunk);
      continue;
    }
    pending += decoder.write(chunk);
    let newline = pending.indexOf("\n");
    while (newline >= 0) {
      const line = pending.slice(0, newline);
      pending = pending.slice(newline + 1);
      try {
        if (line.trim() !== "") onLine(parseJsonSafely(line));
      } catch {
        // A malformed line answers nothing: its message is treated as unanswered.
      }
      newline = pending.indexOf("\n");
    }
  }
  return onLine ? pending : Buffer.concat(chunks, size).toString("utf8");
}

/** JSON replies are parsed with the same refusal of prototype keys as requests; anything else stays text. */
function parseBody(text: string, contentType: string | string[] | undefined): unknown {
  const type = Array.isArray(contentType) ? contentType[0] : contentType;
  if (text.length === 0) return undefined;
  if (type?.includes("json")) {
    try {
      return parseJsonSafely(text);
    } catch {
      return text;
    }
  }
  return text;
}
