/**
 * The coordinator's HTTP API: clients run and query transactions; participants ask for
 * decisions. Every input is checked against its schema before anything is written.
 */
import { createHash } from "node:crypto";
import type { Express, Response } from "express";
import type { z } from "zod";
import type { Authenticator, Caller } from "../shared/auth.js";
import type { DurableLog, LogEvent, TxRecord } from "../shared/durable-log.js";
import { TxExistsError } from "../shared/durable-log.js";
import {
  ForbiddenError,
  IdempotencyKeyReusedError,
  NotFoundError,
  TransactionExistsError,
  UnavailableError,
  UnprocessableError,
  ValidationError,
} from "../shared/errors.js";
import { parseWith } from "../shared/http-server.js";
import { drainOf, readiness } from "../shared/drain.js";
import { monotonicMs } from "../shared/clock.js";
import { newTxid } from "../shared/ids.js";
import { allows, belowFloorMessage, type IsolationPolicy } from "../shared/isolation.js";
import type { Logger } from "../shared/logger.js";
import type { transactionRequestSchema } from "../shared/messages.js";
import { mountRoute } from "../shared/routes.js";
import { logContextOfResponse } from "../shared/http-observe.js";
import type { ClientLimits } from "./client-limits.js";
import type { HotKeys } from "./hot-keys.js";
import type { Engine } from "./engine.js";
import { runSeries, type SeriesInput, type SeriesResult } from "./series.js";
import type { ParticipantClient } from "./participant-client.js";
import { decisionFor, seriesResultOf } from "./log-questions.js";
import { withRedis } from "./redis-errors.js";
import type { OperationCatalog } from "./operation-catalog.js";
import { lockKeysOf, transactionRefusal } from "../shared/operation-rules.js";
import { COORDINATOR_ROUTES as R } from "./routes.js";
import type { ArchiveStore } from "./archive-store.js";
import { findTransaction, listTransactions } from "./history.js";

export interface ApiDeps {
  engine: Engine;
  log: DurableLog;
  participants: ParticipantClient;
  logger: Logger;
  auth: Authenticator;
  limits: ClientLimits;
  hotKeys: HotKeys;
  /** Each participant's published operations schema and rules (operation-catalog.ts). */
  catalog: OperationCatalog;
  defaultTimeoutMs: number;
  maxTimeoutMs: number;
  /** Attempts a request gets when it does not say (`retry.maxAttempts`). */
  defaultMaxAttempts: number;
  /** Where finished transactions go after their window in Redis (none: they expire). */
  archive?: ArchiveStore | undefined;
}

/** What a client (by its API key id) may see: its own transactions. Operators see all. */
function visibleTo(caller: Caller, record: TxRecord): boolean {
  return (
    caller.kind === "admin" ||
    caller.kind === "operator" ||
    (caller.kind === "client" && record.client === caller.id)
  );
}

const notFound = (txid: string) =>
  new NotFoundError(
    `no transaction ${txid} (unknown, made by another client, or expired after the retention period)`,
  );

export function mountApi(app: Express, deps: ApiDeps): void {
  mountRoute(app, deps.auth, R.health, async (_req, res) => {
    if (await logAnswers(deps)) {
      res.json({ status: "ok", role: "coordinator" });
    } else {
      res.status(503).json({
        status: "unavailable",
        role: "coordinator",
        error: { code: "unavailable", message: "the decision log (Redis) is unreachable" },
      });
    }
  });

  // Ready: healthy and not stopping (shared/drain.ts). What a load balancer routes by.
  mountRoute(app, deps.auth, R.ready, async (req, res) => {
    const { status, body } = readiness(req.app, await logAnswers(deps), "coordinator");
    res.status(status).json(body);
  });

  mountRoute(app, deps.auth, R.run, async (req, res, caller) => {
    deps.limits.admitRequest(caller);
    const body = parseWith(R.run.body, req.body, "body");
    const keyHeader = req.header("idempotency-key");
    const idempotencyKey =
      keyHeader === undefined
        ? undefined
        : parseWith(R.run.headers["Idempotency-Key"], keyHeader, "header.Idempotency-Key");
    const timeoutMs = await checkRequest(deps, body, caller);

    // Held until the client has its answer: the transaction's locks are then released or being
    // released by phase 2.
    const release =
      caller.kind === "client"
        ? deps.limits.startTransaction(caller.id, timeoutMs)
        : () => undefined;
    try {
      await runTransaction(deps, res, caller, body, timeoutMs, idempotencyKey);
    } finally {
      release();
    }
  });

  mountRoute(app, deps.auth, R.list, async (req, res, caller) => {
    deps.limits.admitRequest(caller);
    const { cursor, limit, since, until, ...filters } = parseWith(R.list.query, req.query, "query");
    const filter = {
      ...filters,
      sinceMs: since,
      untilMs: until,
      ...(caller.kind === "client" ? { client: caller.id } : {}),
    };
    const page = await listTransactions(deps.log, deps.archive, filter, cursor, limit);
    res.json({ transactions: page.records.map(summary), nextCursor: page.nextCursor });
  });

  mountRoute(app, deps.auth, R.get, async (req, res, caller) => {
    deps.limits.admitRequest(caller);
    const txid = parseWith(R.get.params.txid, req.params.txid, "params.txid");
    const found = await findTransaction(deps.log, deps.archive, txid);
    // Another client's transaction is answered exactly as a missing one: its existence is not ours to tell.
    if (!found || !visibleTo(caller, found.record)) throw notFound(txid);
    res.json(transactionDetail(found.record, found.events));
  });

  // A participant in doubt asks here. An unknown txid is presumed aborted, and that answer is
  // written to the register first, so it can never later become a COMMIT.
  mountRoute(app, deps.auth, R.decision, async (req, res, caller) => {
    const txid = parseWith(R.decision.params.txid, req.params.txid, "params.txid");
    const decision = await withRedis(() => decisionFor(deps.engine, txid, caller.id));
    res.json({ txid, decision });
  });
}

async function logAnswers(deps: ApiDeps): Promise<boolean> {
  try {
    await deps.log.redis.ping();
    return true;
  } catch {
    return false;
  }
}

/**
 * Everything checked before anything is logged: known, distinct participants; each one's
 * operations against its schema; the rules over the whole transaction; the deadline's bound.
 * Returns the transaction's timeout.
 */
async function checkRequest(
  deps: ApiDeps,
  body: z.infer<typeof transactionRequestSchema>,
  caller: Caller,
): Promise<number> {
  const seen = new Set<string>();
  body.participants.forEach((p, i) => {
    if (!deps.participants.has(p.name)) {
      throw new ValidationError(
        `body.participants.${i}.name: unknown participant ${JSON.stringify(p.name)}; known: ${deps.participants.names().join(", ")}`,
        `body.participants.${i}.name`,
      );
    }
    if (seen.has(p.name))
      throw new ValidationError(
        `body.participants.${i}.name: ${p.name} appears twice; put all its operations in one entry`,
        `body.participants.${i}.name`,
      );
    seen.add(p.name);
  });
  // The schema each participant publishes: a malformed operation is refused here, before the
  // begin record, so the log holds nothing for it.
  for (const [i, p] of body.participants.entries())
    await deps.catalog.check(p.name, p.operations, `body.participants.${i}.operations`);
  checkIsolation(body, (name) => deps.catalog.isolation(name));
  const refusal = transactionRefusal(
    body.participants,
    (name) => deps.catalog.rules(name),
    caller.kind === "admin",
  );
  if (refusal) {
    if (refusal.rule === "needs-operator") throw new ForbiddenError(refusal.message);
    throw new UnprocessableError(refusal.message, refusal.rule, refusal.field);
  }
  const timeoutMs = body.timeoutMs ?? deps.defaultTimeoutMs;
  if (timeoutMs > deps.maxTimeoutMs)
    throw new ValidationError(
      `body.timeoutMs: must be at most ${deps.maxTimeoutMs}`,
      "body.timeoutMs",
    );
  return timeoutMs;
}

/**
 * Every level asked for is one its participant runs (its floor, from its descriptor): refused
 * here, before the begin record, so a participant never sees a level it would refuse.
 */
function checkIsolation(
  body: z.infer<typeof transactionRequestSchema>,
  policyOf: (name: string) => IsolationPolicy | undefined,
): void {
  for (const [i, p] of body.participants.entries()) {
    const level = p.isolation ?? body.isolation;
    const policy = policyOf(p.name);
    if (level === undefined || policy === undefined || allows(policy.floor, level)) continue;
    const field = p.isolation !== undefined ? `body.participants.${i}.isolation` : "body.isolation";
    throw new UnprocessableError(
      `${field}: ${belowFloorMessage(p.name, level, policy.floor)}`,
      "isolation-below-floor",
      field,
    );
  }
}

/** The participants as the engine runs them: each with the level it was asked for, if any. */
function withLevels(body: z.infer<typeof transactionRequestSchema>): SeriesInput["participants"] {
  return body.participants.map((p) => {
    const isolation = p.isolation ?? body.isolation;
    return { name: p.name, operations: p.operations, ...(isolation ? { isolation } : {}) };
  });
}

/**
 * Claims a client's Idempotency-Key for this request, or answers the earlier result when the key
 * was already run with the same body ("replayed").
 */
async function claimKey(
  deps: ApiDeps,
  res: Response,
  client: string | undefined,
  body: z.infer<typeof transactionRequestSchema>,
  timeoutMs: number,
  idempotencyKey: string,
): Promise<SeriesInput["idempotency"] | "replayed"> {
  // Keys are scoped by API key id: one client can neither read nor block another's. A key
  // covers the whole series of attempts: it follows the latest, and is "done" with the last.
  const scopedKey = `${client ?? "admin"}/${idempotencyKey}`;
  const requestHash = createHash("sha256").update(JSON.stringify(body)).digest("hex").slice(0, 32);
  const firstTxid = newTxid();
  const claim = await withRedis(() =>
    deps.log.claimIdempotencyKey(scopedKey, firstTxid, requestHash),
  );
  if (!claim.claimed) {
    if (claim.requestHash !== requestHash)
      throw new IdempotencyKeyReusedError(idempotencyKey, claim.txid);
    const earlier = await seriesResultOf(deps.engine, scopedKey, timeoutMs);
    res.setHeader("Idempotent-Replayed", "true");
    sendResult(res, earlier);
    return "replayed";
  }
  return { scopedKey, key: idempotencyKey, requestHash, firstTxid };
}

/** One transaction as GET shows it: the record, its attempts' links and its events. */
function transactionDetail(record: TxRecord, events: LogEvent[]) {
  return {
    ...summary(record),
    timeoutMs: record.timeoutMs,
    deadlineAt: iso(record.deadlineAtMs),
    decidedBy: record.decidedBy,
    decidedAt: iso(record.decidedAtMs),
    endedAt: iso(record.endedAtMs),
    presumedAbort: record.presumed,
    // The attempts of one request link to each other (the coordinator's retries).
    attempt: record.attempt,
    series: record.series ?? record.txid,
    previousAttempt: record.previous ?? null,
    nextAttempt: record.next ?? null,
    participants: record.participants.map((name) => ({
      name,
      vote: record.votes[name] ?? null,
      acknowledgedAt: iso(record.acks[name]) ?? null,
    })),
    events: events.map((e) => ({ type: e.type, at: iso(e.atMs), data: e.data })),
  };
}

async function runTransaction(
  deps: ApiDeps,
  res: Response,
  caller: Caller,
  body: z.infer<typeof transactionRequestSchema>,
  timeoutMs: number,
  idempotencyKey: string | undefined,
): Promise<void> {
  const client = caller.kind === "client" ? caller.id : undefined;
  let idempotency: SeriesInput["idempotency"];
  if (idempotencyKey !== undefined) {
    const claim = await claimKey(deps, res, client, body, timeoutMs, idempotencyKey);
    if (claim === "replayed") return;
    idempotency = claim;
  }
  const observer = deps.engine.io.observer;
  const startedAt = monotonicMs();
  let result: SeriesResult;
  observer?.requestStarted();
  try {
    result = await runSeries(
      {
        engine: deps.engine,
        log: deps.log,
        logger: deps.logger,
        hotKeys: deps.hotKeys,
        draining: () => drainOf(res.app).draining,
        observer,
      },
      {
        participants: withLevels(body),
        keys: body.participants.flatMap((p) => {
          const rules = deps.catalog.rules(p.name);
          return rules
            ? lockKeysOf(rules, p.operations).map(({ key }) => ({ participant: p.name, key }))
            : [];
        }),
        timeoutMs,
        maxAttempts: body.retry?.maxAttempts ?? deps.defaultMaxAttempts,
        ...(client ? { client } : {}),
        ...(idempotency ? { idempotency } : {}),
        logContext: logContextOfResponse(res),
      },
    );
  } catch (err) {
    if (err instanceof TxExistsError) throw new TransactionExistsError(err.txid, err.message);
    observer?.storeError("begin");
    throw new UnavailableError(
      `the decision log is unreachable; nothing was done (${(err as Error).message})`,
    );
  } finally {
    observer?.requestLeft();
  }
  observer?.phaseEnded("end_to_end", (monotonicMs() - startedAt) / 1000);
  observer?.requestEnded(result);
  sendResult(res, result);
}

function sendResult(res: Response, result: SeriesResult): void {
  // The access-log line names the transaction (shared/http-observe.ts).
  (res.locals as { txid?: string }).txid = result.txid;
  const body = {
    txid: result.txid,
    outcome: result.outcome,
    ...(result.reason ? { reason: result.reason } : {}),
    participants: result.participants,
    attempts: result.attempts,
  };
  if (result.outcome === "unknown") {
    res.status(503).json({
      ...body,
      error: { code: "outcome-unknown", message: result.reason ?? "outcome unknown" },
    });
    return;
  }
  if (result.clientFault) {
    const f = result.clientFault;
    res
      .status(f.status)
      .json({ ...body, error: { code: f.code, message: f.message, participant: f.participant } });
    return;
  }
  res.json(body);
}

function summary(r: TxRecord) {
  return {
    txid: r.txid,
    state: r.state,
    decision: r.decision ?? null,
    reason: r.reason ?? null,
    participants: r.participants,
    createdAt: iso(r.createdAtMs),
  };
}

function iso(ms: number | undefined): string | undefined {
  return ms === undefined || Number.isNaN(ms) ? undefined : new Date(ms).toISOString();
}
