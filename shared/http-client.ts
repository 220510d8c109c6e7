import { Agent, request } from "undici";
import type { Signer } from "./auth.js";

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
}

export interface HttpClient {
  /** `sign`, when given, adds the headers that authenticate this exact request. */
  post<T = unknown>(url: string, body: unknown, timeoutMs: number, sign?: Signer): Promise<HttpReply<T>>;
  /** POST a body that is JSON text already (serialized once by the caller, sent as is). */
  postJson<T = unknown>(url: string, json: string, timeoutMs: number, sign?: Signer): Promise<HttpReply<T>>;
  get<T = unknown>(url: string, timeoutMs: number, sign?: Signer): Promise<HttpReply<T>>;
  close(): Promise<void>;
}

/** Thrown when no HTTP answer arrived at all (refused, reset, timed out). */
export class TransportError extends Error {
  readonly retryable = true;
  constructor(readonly url: string, override readonly cause: unknown) {
    super(`no answer from ${url}: ${(cause as Error)?.message ?? String(cause)}`);
    this.name = "TransportError";
  }
}

/** Replies larger than this are refused: no peer of ours sends one, and memory is bounded. */
const MAX_REPLY_BYTES = 1024 * 1024;
const JSON_HEADERS = { "content-type": "application/json" };

export function createHttpClient(p: { maxSockets?: number } = {}): HttpClient {
  const agent = new Agent({ connections: p.maxSockets ?? 256, keepAliveTimeout: 30_000, pipelining: 1 });

  const send = async <T>(url: string, method: "GET" | "POST", body: string | undefined, timeoutMs: number, sign: Signer | undefined): Promise<HttpReply<T>> => {
    let reply;
    try {
      const signed = sign ? sign(method, pathOf(url), body ?? "") : {};
      reply = await request(url, {
        method,
        dispatcher: agent,
        headers: { ...(body !== undefined ? JSON_HEADERS : {}), ...signed },
        ...(body !== undefined ? { body } : {}),
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
      });
    } catch (err) {
      throw new TransportError(url, err);
    }
    let text: string;
    try {
      const declared = Number(reply.headers["content-length"] ?? 0);
      if (declared > MAX_REPLY_BYTES) {
        reply.body.destroy();
        throw new Error(`reply of ${declared} bytes exceeds ${MAX_REPLY_BYTES}`);
      }
      text = await reply.body.text();
    } catch (err) {
      throw new TransportError(url, err);
    }
    return { status: reply.statusCode, data: parseBody(text, reply.headers["content-type"]) as T };
  };

  return {
    post: <T>(url: string, body: unknown, timeoutMs: number, sign?: Signer) => send<T>(url, "POST", JSON.stringify(body), timeoutMs, sign),
    postJson: <T>(url: string, json: string, timeoutMs: number, sign?: Signer) => send<T>(url, "POST", json, timeoutMs, sign),
    get: <T>(url: string, timeoutMs: number, sign?: Signer) => send<T>(url, "GET", undefined, timeoutMs, sign),
    close: () => agent.close(),
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

function parseBody(text: string, contentType: string | string[] | undefined): unknown {
  const type = Array.isArray(contentType) ? contentType[0] : contentType;
  if (text.length === 0) return undefined;
  if (type?.includes("json")) {
    try {
      return JSON.parse(text) as unknown;
    } catch {
      return text;
    }
  }
  return text;
}
