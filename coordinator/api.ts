/**
 * The coordinator's HTTP API: clients run and query transactions; participants ask for
 * decisions. Every input is checked against its schema before anything is written.
 */
import { createHash } from "node:crypto";
import type { Express, Response } from "express";
import { z } from "zod";
import type { Authenticator, Caller } from "../shared/auth.js";
import { monotonicMs, sleep } from "../shared/clock.js";
import type { DurableLog, TxRecord } from "../shared/durable-log.js";
import { OnePhaseUndecidedError, TxExistsError } from "../shared/durable-log.js";
import {
  ConflictError,
  ForbiddenError,
  NotFoundError,
  UnavailableError,
  UnprocessableError,
  ValidationError,
} from "../shared/errors.js";
import { isConnectionFailure, parseWith } from "../shared/http-server.js";
import { newTxid } from "../shared/ids.js";
import type { Logger } from "../shared/logger.js";
import {
  idempotencyKeySchema,
  LIMITS,
  queryInt,
  transactionRequestSchema,
  txidSchema,
} from "../shared/messages.js";
import { mountRoute } from "../shared/routes.js";
import type { ClientLimits } from "./client-limits.js";
import type { HotKeys } from "./hot-keys.js";
import type { Engine, TransactionResult } from "./engine.js";
import { runSeries, type AttemptSummary, type SeriesInput, type SeriesResult } from "./series.js";
import type { ParticipantClient } from "./participant-client.js";
import { phase2TargetsOf } from "./recovery.js";
import { COORDINATOR_ROUTES as R } from "./routes.js";

/**
 * What the coordinator knows of the participants' operations before it logs anything: a schema
 * that checks each participant's list completely, and rules over the whole transaction (the bank:
 * debits equal credits; reads only for operators). Undefined leaves both to the participants.
 */
export interface OperationsPolicy {
  schema: z.ZodTypeAny;
  /** The keys one participant's operations lock (as the participant names them in a conflict). */
  lockKeys?(operations: unknown[]): string[];
  refusal(
    participants: { name: string; operations: unknown[] }[],
    caller: Caller,
  ): { rule: string; message: string; field: string } | undefined;
}

export interface ApiDeps {
  engine: Engine;
  log: DurableLog;
  participants: ParticipantClient;
  logger: Logger;
  auth: Authenticator;
  limits: ClientLimits;
  hotKeys: HotKeys;
  operations: OperationsPolicy | undefined;
  defaultTimeoutMs: number;
  maxTimeoutMs: number;
  /** Attempts a request gets when it does not say (`retry.maxAttempts`). */
  defaultMaxAttempts: number;
}

const listQuerySchema = z
  .object({
    state: z
      .enum(["preparing", "committing", "aborting", "committed", "aborted", "active", "finished"])
      .optional(),
    limit: queryInt(1, 500, 50),
  })
  .strict();

/** What a client (by its API key id) may see: its own transactions. Operators see all. */
function visibleTo(caller: Caller, record: TxRecord): boolean {
  return caller.kind === "admin" || (caller.kind === "client" && record.client === caller.id);
}

const notFound = (txid: string) =>
  new NotFoundError(
    `no transaction ${txid} (unknown, made by another client, or expired after the retention period)`,
  );

export function mountApi(app: Express, deps: ApiDeps): void {
  mountRoute(app, deps.auth, R.health, async (_req, res) => {
    try {
      await deps.log.redis.ping();
      res.json({ status: "ok", role: "coordinator" });
    } catch {
      res.status(503).json({
        status: "unavailable",
        role: "coordinator",
        error: { code: "unavailable", message: "the decision log (Redis) is unreachable" },
      });
    }
  });

  mountRoute(app, deps.auth, R.run, async (req, res, caller) => {
    deps.limits.admitRequest(caller);
    const body = parseWith(transactionRequestSchema, req.body, "body");
    const keyHeader = req.header("idempotency-key");
    const idempotencyKey =
      keyHeader === undefined
        ? undefined
        : parseWith(idempotencyKeySchema, keyHeader, "header.Idempotency-Key");
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
      // The same schema the participant applies: a malformed operation is refused here, before
      // the begin record, so the log holds nothing for it.
      if (deps.operations)
        parseWith(deps.operations.schema, p.operations, `body.participants.${i}.operations`);
    });
    const refusal = deps.operations?.refusal(body.participants, caller);
    if (refusal) {
      if (refusal.rule === "reads-need-operator") throw new ForbiddenError(refusal.message);
      throw new UnprocessableError(refusal.message, refusal.rule, refusal.field);
    }
    const timeoutMs = body.timeoutMs ?? deps.defaultTimeoutMs;
    if (timeoutMs > deps.maxTimeoutMs)
      throw new ValidationError(
        `body.timeoutMs: must be at most ${deps.maxTimeoutMs}`,
        "body.timeoutMs",
      );

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
    const q = parseWith(listQuerySchema, req.query, "query");
    const records = await withRedis(() =>
      caller.kind === "client"
        ? listClientTransactions(deps.log, caller.id, q.state, q.limit)
        : listTransactions(deps.log, q.state, q.limit),
    );
    res.json({ transactions: records.map(summary) });
  });

  mountRoute(app, deps.auth, R.get, async (req, res, caller) => {
    deps.limits.admitRequest(caller);
    const txid = parseWith(txidSchema, req.params.txid, "params.txid");
    const [record, events] = await withRedis(() =>
      Promise.all([deps.log.get(txid), deps.log.events(txid)]),
    );
    // Another client's transaction is answered exactly as a missing one: its existence is not ours to tell.
    if (!record || !visibleTo(caller, record)) throw notFound(txid);
    res.json({
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
    });
  });

  // A participant in doubt asks here. An unknown txid is presumed aborted, and that answer is
  // written to the register first, so it can never later become a COMMIT.
  mountRoute(app, deps.auth, R.decision, async (req, res, caller) => {
    const txid = parseWith(txidSchema, req.params.txid, "params.txid");
    const decision = await withRedis(() => decisionFor(deps, txid, caller.id));
    res.json({ txid, decision });
  });
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
    // Keys are scoped by API key id: one client can neither read nor block another's. A key
    // covers the whole series of attempts: it follows the latest, and is "done" with the last.
    const scopedKey = `${client ?? "admin"}/${idempotencyKey}`;
    const requestHash = createHash("sha256")
      .update(JSON.stringify(body))
      .digest("hex")
      .slice(0, 32);
    const firstTxid = newTxid();
    const claim = await withRedis(() =>
      deps.log.claimIdempotencyKey(scopedKey, firstTxid, requestHash),
    );
    if (!claim.claimed) {
      if (claim.requestHash !== requestHash)
        throw new ConflictError(
          `Idempotency-Key ${idempotencyKey} was used for a different request (transaction ${claim.txid})`,
          "idempotency-key-reused",
        );
      const earlier = await seriesResultOf(deps, scopedKey, timeoutMs);
      res.setHeader("Idempotent-Replayed", "true");
      sendResult(res, earlier);
      return;
    }
    idempotency = { scopedKey, key: idempotencyKey, requestHash, firstTxid };
  }
  let result: SeriesResult;
  try {
    const lockKeys = deps.operations?.lockKeys;
    result = await runSeries(
      { engine: deps.engine, log: deps.log, logger: deps.logger, hotKeys: deps.hotKeys },
      {
        participants: body.participants,
        ...(lockKeys
          ? {
              keys: body.participants.flatMap((p) =>
                lockKeys(p.operations).map((key) => ({ participant: p.name, key })),
              ),
            }
          : {}),
        timeoutMs,
        maxAttempts: body.retry?.maxAttempts ?? deps.defaultMaxAttempts,
        ...(client ? { client } : {}),
        ...(idempotency ? { idempotency } : {}),
      },
    );
  } catch (err) {
    if (err instanceof TxExistsError) throw new ConflictError(err.message);
    throw new UnavailableError(
      `the decision log is unreachable; nothing was done (${(err as Error).message})`,
    );
  }
  sendResult(res, result);
}

async function decisionFor(
  deps: ApiDeps,
  txid: string,
  asker: string,
): Promise<"commit" | "abort" | "pending"> {
  const record = await deps.log.get(txid);
  // Only a participant of the transaction may learn or force its outcome. (For an unknown txid
  // there is nothing to learn: it is presumed aborted, which is what any asker is told.)
  if (record && !record.presumed && !record.participants.includes(asker))
    throw new ForbiddenError(`participant ${asker} is not part of transaction ${txid}`);
  if (record?.decision) return record.decision;
  // The deadline was set on the Redis clock, so it is compared with the Redis clock.
  if (
    record &&
    (deps.engine.active.has(txid) || (record.deadlineAtMs ?? 0) > (await deps.log.nowMs()))
  )
    return "pending";
  // Unknown, or past its deadline with nobody deciding: abort through the register. A
  // one-phase transaction is settled by recovery, which asks its participant.
  if (record?.onePhase) return "pending";
  let stored;
  try {
    stored = await deps.log.decideOnce(txid, "abort", {
      reason: record
        ? "deadline passed; a participant asked"
        : "presumed abort: unknown transaction",
      by: "inquiry",
      retryDelayMs: 0,
    });
  } catch (err) {
    if (err instanceof OnePhaseUndecidedError) return "pending";
    throw err;
  }
  deps.logger.info(
    { txid, decision: stored.decision, won: stored.won, presumed: !record },
    "decision inquiry",
  );
  return stored.decision;
}

function sendResult(res: Response, result: SeriesResult): void {
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

/**
 * The answer of an earlier request with the same Idempotency-Key: waits (bounded) until its series
 * of attempts has ended, then answers its last attempt, with every attempt listed.
 */
async function seriesResultOf(
  deps: ApiDeps,
  scopedKey: string,
  timeoutMs: number,
): Promise<SeriesResult> {
  const waitUntil = monotonicMs() + timeoutMs + 5000;
  let state = await withRedis(() => deps.log.idempotencyState(scopedKey));
  while (!state.done && monotonicMs() < waitUntil) {
    // A first attempt that never began (its coordinator died before the begin record) is not
    // waited for past the request's own deadline.
    if (
      monotonicMs() > waitUntil - 5000 &&
      !deps.engine.active.has(state.txid) &&
      !(await withRedis(() => deps.log.get(state.txid)))
    )
      break;
    await sleep(50);
    state = await withRedis(() => deps.log.idempotencyState(scopedKey));
  }
  const result = await resultOf(deps, state.txid, waitUntil);
  return { ...result, attempts: await attemptsUpTo(deps.log, state.txid) };
}

/** The attempts of a series, first to last, read back from the log by their `previous` links. */
async function attemptsUpTo(log: DurableLog, lastTxid: string): Promise<AttemptSummary[]> {
  const chain: AttemptSummary[] = [];
  let txid: string | undefined = lastTxid;
  for (let i = 0; txid !== undefined && i < LIMITS.maxAttempts; i++) {
    const record: TxRecord | undefined = await withRedis(() => log.get(txid as string));
    chain.unshift({
      txid,
      outcome:
        record?.decision === "commit"
          ? "committed"
          : record?.decision === "abort"
            ? "aborted"
            : "unknown",
      ...(record?.reason ? { reason: record.reason } : {}),
    });
    txid = record?.previous;
  }
  return chain;
}

/** The result of an earlier run, read from the log (for an Idempotency-Key retry). */
async function resultOf(
  deps: ApiDeps,
  txid: string,
  waitUntil: number,
): Promise<TransactionResult> {
  // The first request may still be running: wait for its decision, but not forever.
  for (;;) {
    const record = await withRedis(() => deps.log.get(txid));
    if (record?.decision) return resultFromRecord(record);
    const now = monotonicMs();
    if (now > waitUntil || (!record && !deps.engine.active.has(txid))) {
      // A one-phase participant decides on its own; only recovery, which asks it, may settle it.
      if (record?.onePhase)
        return {
          txid,
          outcome: "unknown",
          reason: "the first request has not finished; recovery will settle it",
          participants: [],
        };
      let stored;
      try {
        stored = await withRedis(() =>
          deps.log.decideOnce(txid, "abort", {
            reason: "the first request with this Idempotency-Key did not finish",
            by: "inquiry",
            retryDelayMs: 0,
          }),
        );
      } catch (err) {
        if (err instanceof OnePhaseUndecidedError)
          return {
            txid,
            outcome: "unknown",
            reason: "the first request has not finished; recovery will settle it",
            participants: [],
          };
        throw err;
      }
      const after = await withRedis(() => deps.log.get(txid));
      return after
        ? resultFromRecord(after)
        : {
            txid,
            outcome: stored.decision === "commit" ? "committed" : "aborted",
            participants: [],
          };
    }
    await sleep(50);
  }
}

function resultFromRecord(record: TxRecord): TransactionResult {
  const decision = record.decision;
  const targets = decision ? new Set(phase2TargetsOf(record, decision)) : new Set<string>();
  return {
    txid: record.txid,
    outcome: decision === "commit" ? "committed" : "aborted",
    ...(record.reason ? { reason: record.reason } : {}),
    participants: record.participants.map((name) => {
      const vote =
        record.votes[name] ?? (record.onePhase ? (decision === "commit" ? "yes" : "no") : "none");
      const done = !targets.has(name) || record.acks[name] !== undefined || record.onePhase;
      const state =
        vote === "read-only"
          ? "read-only"
          : done
            ? decision === "commit"
              ? "committed"
              : "aborted"
            : decision === "commit"
              ? "committing"
              : "aborting";
      return { name, vote, state };
    }),
  };
}

/**
 * One client's most recent transactions. With a state filter, the newest of its recent
 * transactions in that state: the index is read up to a bound, never the whole history.
 */
async function listClientTransactions(
  log: DurableLog,
  client: string,
  state: string | undefined,
  limit: number,
): Promise<TxRecord[]> {
  const candidates = state === undefined ? limit : Math.min(limit * 8, 2000);
  const records = await log.getMany(await log.listClient(client, candidates));
  const wanted = records.filter((r) => r.client === client && matchesState(r, state));
  return wanted.slice(0, limit);
}

function matchesState(r: TxRecord, state: string | undefined): boolean {
  if (state === undefined) return true;
  const finished = r.state === "committed" || r.state === "aborted" || r.endedAtMs !== undefined;
  if (state === "active") return !finished;
  if (state === "finished") return finished;
  return r.state === state;
}

async function listTransactions(
  log: DurableLog,
  state: string | undefined,
  limit: number,
): Promise<TxRecord[]> {
  const indexes: ("undecided" | "unacked" | "finished")[] =
    state === "preparing"
      ? ["undecided"]
      : state === "committing" || state === "aborting"
        ? ["unacked"]
        : state === "committed" || state === "aborted" || state === "finished"
          ? ["finished"]
          : state === "active"
            ? ["undecided", "unacked"]
            : ["undecided", "unacked", "finished"];
  const txids = (await Promise.all(indexes.map((i) => log.listIndex(i, limit)))).flat();
  const records = await log.getMany([...new Set(txids)].sort().reverse());
  const wanted =
    state === undefined || state === "active" || state === "finished"
      ? records
      : records.filter((r) => r.state === state);
  return wanted.slice(0, limit);
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

/** Redis errors become a clear 503 instead of a 500. */
async function withRedis<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    if (
      isConnectionFailure(err) ||
      (err instanceof Error && /max retries|Stream isn't writeable/i.test(err.message))
    ) {
      throw new UnavailableError(
        `the decision log (Redis) is unreachable: ${(err as Error).message}`,
      );
    }
    throw err;
  }
}
