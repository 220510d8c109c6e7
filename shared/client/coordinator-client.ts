/**
 * A typed client for the coordinator's transaction API (README "API"): run a transaction, read
 * one, list them. A run carries an Idempotency-Key (a fresh UUID v4 unless the caller gives
 * one) and is sent again with the same key and the same bytes when no answer came or the answer
 * was 503: the coordinator then answers the first run's result and runs nothing twice. Other
 * refusals are never retried; they throw CoordinatorRequestError.
 *
 *   const client = new CoordinatorClient({ url: "http://127.0.0.1:7000", apiKey });
 *   const r = await client.run({ participants: [{ name: "bank-a", operations: [...] }, ...] });
 *   if (r.outcome === "committed") ...
 */
import { randomUUID } from "node:crypto";
import { Agent, type Dispatcher } from "undici";
import type { z } from "zod";
import { monotonicMs } from "../clock.js";
import type { BackoffPolicy } from "../backoff.js";
import {
  transactionDetailSchema,
  transactionListSchema,
  type TransactionDetail,
  type TransactionSummary,
} from "./answers.js";
import { exchangeWithRetries, type Outgoing } from "./transport.js";
import { okBodyOf, runResultOf, type RunResult } from "./results.js";
import { bodyOf, type ListRequest, type RunRequest } from "./requests.js";

export interface CoordinatorClientOptions {
  /** The coordinator's base URL, e.g. `http://127.0.0.1:7000`. */
  url: string;
  /** A client API key, or the coordinator's admin secret for an operator (`Authorization: Bearer`). */
  apiKey: string;
  /**
   * The bound of one HTTP attempt, in ms. Default 30,000, and for a run at least its timeoutMs +
   * 6 s (a resent run waits for the first one's decision). An attempt cut short is resent with
   * the same key, so a shorter bound costs requests, never a second run.
   */
  timeoutMs?: number;
  /** Attempts after the first when no answer came or it was 503 (default 4). */
  retries?: number;
  /** The bound of one call, every attempt and backoff included, in ms (default 60,000). */
  deadlineMs?: number;
  /** Backoff between attempts: capped exponential with jitter (default 100 ms up to 2 s). */
  backoff?: BackoffPolicy;
  /** Connections kept to the coordinator (default: as many as requests in flight). */
  connections?: number;
  /** An undici dispatcher of the caller's own; `close()` then leaves it open. */
  dispatcher?: Dispatcher;
  /** The jitter's random source (tests). */
  random?: () => number;
}

const DEFAULTS = { timeoutMs: 30_000, retries: 4, deadlineMs: 60_000 };
/** A replay waits for the first run's decision up to its timeout + 5 s (log-questions.ts). */
const REPLAY_MARGIN_MS = 6_000;

export class CoordinatorClient {
  private readonly base: string;
  private readonly dispatcher: Dispatcher;
  private readonly ownsDispatcher: boolean;

  constructor(private readonly options: CoordinatorClientOptions) {
    this.base = options.url.replace(/\/+$/, "");
    this.ownsDispatcher = options.dispatcher === undefined;
    this.dispatcher =
      options.dispatcher ??
      new Agent({
        keepAliveTimeout: 30_000,
        ...(options.connections !== undefined ? { connections: options.connections } : {}),
      });
  }

  /** Runs one transaction: committed, aborted (with why) or unknown; throws on a refusal. */
  async run(req: RunRequest): Promise<RunResult> {
    const keyed = req.idempotent !== false;
    const idempotencyKey = keyed ? (req.idempotencyKey ?? randomUUID()) : undefined;
    const out: Outgoing = {
      method: "POST",
      url: `${this.base}/v1/transactions`,
      headers: {
        ...this.authHeaders(),
        "content-type": "application/json",
        ...(idempotencyKey !== undefined ? { "idempotency-key": idempotencyKey } : {}),
      },
      body: JSON.stringify(bodyOf(req)),
    };
    const attemptTimeoutMs =
      this.options.timeoutMs ??
      Math.max(DEFAULTS.timeoutMs, (req.timeoutMs ?? 0) + REPLAY_MARGIN_MS);
    const answer = await exchangeWithRetries(this.dispatcher, out, {
      ...this.plan(req.deadlineMs, keyed ? req.retries : 0),
      attemptTimeoutMs,
      ...(idempotencyKey !== undefined ? { idempotencyKey } : {}),
    });
    return runResultOf(answer, idempotencyKey);
  }

  /** One transaction and its events (404 for an unknown one, or another client's). */
  async get(txid: string): Promise<TransactionDetail> {
    return this.read(`/v1/transactions/${encodeURIComponent(txid)}`, transactionDetailSchema);
  }

  /** The most recent transactions, newest first: a client's own, every one for an operator. */
  async list(req: ListRequest = {}): Promise<TransactionSummary[]> {
    const query = new URLSearchParams();
    if (req.state !== undefined) query.set("state", req.state);
    if (req.limit !== undefined) query.set("limit", String(req.limit));
    const q = query.toString();
    const path = `/v1/transactions${q === "" ? "" : `?${q}`}`;
    return (await this.read(path, transactionListSchema)).transactions;
  }

  /** Closes the connections (when the client made its own dispatcher). */
  async close(): Promise<void> {
    if (this.ownsDispatcher) await this.dispatcher.close();
  }

  private async read<T>(path: string, schema: z.ZodType<T, z.ZodTypeDef, unknown>): Promise<T> {
    const out: Outgoing = {
      method: "GET",
      url: `${this.base}${path}`,
      headers: this.authHeaders(),
    };
    const answer = await exchangeWithRetries(this.dispatcher, out, {
      ...this.plan(undefined, undefined),
      attemptTimeoutMs: this.options.timeoutMs ?? DEFAULTS.timeoutMs,
    });
    return okBodyOf(answer, schema);
  }

  private plan(deadlineMs: number | undefined, retries: number | undefined) {
    return {
      retries: retries ?? this.options.retries ?? DEFAULTS.retries,
      backoff: this.options.backoff ?? { baseMs: 100, capMs: 2000 },
      deadlineAt: monotonicMs() + (deadlineMs ?? this.options.deadlineMs ?? DEFAULTS.deadlineMs),
      ...(this.options.random ? { random: this.options.random } : {}),
    };
  }

  private authHeaders(): Record<string, string> {
    return { authorization: `Bearer ${this.options.apiKey}`, accept: "application/json" };
  }
}
