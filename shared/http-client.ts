import axios, { type AxiosInstance } from "axios";
import http from "node:http";
import https from "node:https";

/**
 * One HTTP client per process, with keep-alive: a new TCP connection per 2PC message would
 * cost more than the message. Non-2xx answers are returned, not thrown, so callers decide what
 * a status means in their protocol step.
 */
export interface HttpReply<T = unknown> {
  status: number;
  data: T;
}

export interface HttpClient {
  post<T = unknown>(url: string, body: unknown, timeoutMs: number): Promise<HttpReply<T>>;
  get<T = unknown>(url: string, timeoutMs: number): Promise<HttpReply<T>>;
}

/** Thrown when no HTTP answer arrived at all (refused, reset, timed out). */
export class TransportError extends Error {
  readonly retryable = true;
  constructor(readonly url: string, override readonly cause: unknown) {
    super(`no answer from ${url}: ${(cause as Error)?.message ?? String(cause)}`);
    this.name = "TransportError";
  }
}

export function createHttpClient(p: { maxSockets?: number } = {}): HttpClient {
  const instance: AxiosInstance = axios.create({
    httpAgent: new http.Agent({ keepAlive: true, maxSockets: p.maxSockets ?? 256 }),
    httpsAgent: new https.Agent({ keepAlive: true, maxSockets: p.maxSockets ?? 256 }),
    validateStatus: () => true,
    maxRedirects: 0,
    headers: { "content-type": "application/json" },
    maxContentLength: 1024 * 1024,
  });
  const wrap = async <T>(url: string, run: () => Promise<{ status: number; data: T }>): Promise<HttpReply<T>> => {
    try {
      const res = await run();
      return { status: res.status, data: res.data };
    } catch (err) {
      throw new TransportError(url, err);
    }
  };
  return {
    post: <T>(url: string, body: unknown, timeoutMs: number) => wrap<T>(url, () => instance.post<T>(url, body, { timeout: timeoutMs })),
    get: <T>(url: string, timeoutMs: number) => wrap<T>(url, () => instance.get<T>(url, { timeout: timeoutMs })),
  };
}
