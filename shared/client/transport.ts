/**
 * The client's HTTP: one exchange on undici (keep-alive, no per-request config merging), and the
 * loop that sends one request again, byte for byte, when no answer came (refused, reset, timed
 * out) or the answer was 503, with capped jittered backoff, within a bounded number of attempts
 * and an overall deadline. Every other answer, 4xx included, ends the loop at once.
 */
import { request, type Dispatcher } from "undici";
import { backoffDelayMs, type BackoffPolicy } from "../backoff.js";
import { monotonicMs, sleep } from "../clock.js";
import { CoordinatorUnavailableError } from "./errors.js";

export interface Exchange {
  status: number;
  /** The body parsed as JSON, or its text when it is not JSON. */
  body: unknown;
  headers: Record<string, string | string[] | undefined>;
}

export interface Outgoing {
  method: "GET" | "POST";
  url: string;
  headers: Record<string, string>;
  /** JSON text, serialized once so that every attempt sends the same bytes. */
  body?: string;
}

/**
 * One request, one answer (any status), or a throw when none came within `timeoutMs`. The bound
 * is undici's own (headers, then body; a connection's is the dispatcher's, 10 s by default): an
 * AbortSignal per request cost a busy client more than the request itself.
 */
export async function exchangeOnce(
  dispatcher: Dispatcher,
  out: Outgoing,
  timeoutMs: number,
): Promise<Exchange> {
  const reply = await request(out.url, {
    method: out.method,
    dispatcher,
    headers: out.headers,
    ...(out.body !== undefined ? { body: out.body } : {}),
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
  });
  const text = await reply.body.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    /* not JSON: kept as text for the error message */
  }
  return { status: reply.statusCode, body, headers: reply.headers };
}

export interface RetryPlan {
  /** Attempts after the first; 0 sends once. */
  retries: number;
  backoff: BackoffPolicy;
  /** Monotonic time (shared/clock.ts) after which no attempt starts and none is waited for. */
  deadlineAt: number;
  /** The bound of one attempt (also cut to what is left of the deadline). */
  attemptTimeoutMs: number;
  /** For the error: the run's Idempotency-Key. */
  idempotencyKey?: string;
  random?: () => number;
}

/**
 * Sends `out` until an answer that is not 503 arrives, and returns it. When every attempt failed,
 * returns the last 503 if there was one (its body may say more, such as `outcome-unknown`), and
 * throws CoordinatorUnavailableError otherwise.
 */
export async function exchangeWithRetries(
  dispatcher: Dispatcher,
  out: Outgoing,
  plan: RetryPlan,
): Promise<Exchange> {
  let last503: Exchange | undefined;
  let lastError: unknown;
  let attempts = 0;
  for (let attempt = 0; attempt <= plan.retries; attempt++) {
    const left = plan.deadlineAt - monotonicMs();
    if (left <= 0) break;
    attempts++;
    try {
      const timeoutMs = Math.max(1, Math.ceil(Math.min(plan.attemptTimeoutMs, left)));
      const answer = await exchangeOnce(dispatcher, out, timeoutMs);
      if (answer.status !== 503) return answer;
      last503 = answer;
    } catch (err) {
      lastError = err;
    }
    if (attempt === plan.retries) break;
    const delay = backoffDelayMs(attempt, plan.backoff, plan.random);
    if (monotonicMs() + delay >= plan.deadlineAt) break;
    await sleep(delay);
  }
  if (last503) return last503;
  const why = lastError instanceof Error ? lastError.message : "the deadline passed";
  throw new CoordinatorUnavailableError(
    `no answer from ${out.method} ${out.url} after ${attempts} attempt(s): ${why}`,
    attempts,
    undefined,
    plan.idempotencyKey,
    lastError,
  );
}
