/** The participant's 2PC endpoints. Bodies are validated before anything runs. */
import type { Express, Response } from "express";
import type pg from "pg";
import type { Authenticator } from "../../shared/auth.js";
import type { DurableLog } from "../../shared/durable-log.js";
import { mountRoute } from "../../shared/routes.js";
import { readiness } from "../../shared/drain.js";
import { PARTICIPANT_ROUTES as R } from "./routes.js";
import { ValidationError } from "../../shared/errors.js";
import { NDJSON } from "../../shared/http-client.js";
import { errorReply, parseWith } from "../../shared/http-server.js";
import type { Logger } from "../../shared/logger.js";
import {
  batchRequestSchema,
  type BatchRequest,
  emptyBodySchema,
  prepareRequestSchema,
  twoPhaseActionSchema,
  txidSchema,
  type TwoPhaseAction,
} from "../../shared/messages.js";
import type { Participant } from "./participant.js";

/** Validates one 2PC message and runs it; errors are thrown for the caller to turn into a reply. */
async function handleTwoPhase<Ops>(
  participant: Participant<Ops>,
  action: TwoPhaseAction,
  txid: string,
  rawBody: unknown,
  where: string,
): Promise<unknown> {
  switch (action) {
    case "prepare": {
      const body = parseWith(prepareRequestSchema, rawBody, where);
      return participant.prepare(
        txid,
        body.operations,
        body.timeoutMs,
        body.participants,
        body.ordered ?? false,
        body.isolation,
      );
    }
    case "one-phase": {
      const body = parseWith(prepareRequestSchema, rawBody, where);
      return participant.onePhase(txid, body.operations, body.timeoutMs, body.isolation);
    }
    case "commit":
      parseWith(emptyBodySchema, rawBody, where);
      return participant.commit(txid);
    case "abort":
      parseWith(emptyBodySchema, rawBody, where);
      return participant.abort(txid);
  }
}

/** How long a batch's ready answer may wait for the others before it leaves on its own. */
const BATCH_LINGER_MS = 10;

/** An application's validation error names `body.…`; inside a batch it is `body.messages.<i>.body.…`. */
function inBatch(err: unknown, index: number): unknown {
  if (
    !(err instanceof ValidationError) ||
    !err.field?.startsWith("body.") ||
    err.field.startsWith("body.messages.")
  )
    return err;
  const field = `body.messages.${index}.${err.field}`;
  return new ValidationError(
    err.message.startsWith(err.field) ? field + err.message.slice(err.field.length) : err.message,
    field,
  );
}

/** Whether this participant's PostgreSQL and journal answer; either unreachable is degraded. */
async function checkHealth(
  name: string,
  deps: { pool: pg.Pool; journal: DurableLog },
): Promise<{ ok: boolean; body: Record<string, unknown> }> {
  const checks = await Promise.allSettled([deps.pool.query("SELECT 1"), deps.journal.redis.ping()]);
  const [pgCheck, redisCheck] = checks.map((c) =>
    c.status === "fulfilled" ? "ok" : "unreachable",
  );
  const ok = checks.every((c) => c.status === "fulfilled");
  return {
    ok,
    body: {
      status: ok ? "ok" : "degraded",
      role: "participant",
      name,
      postgres: pgCheck,
      journal: redisCheck,
    },
  };
}

/**
 * Runs a batch's messages and writes each answer as an NDJSON line, then ends the response.
 * Answers leave together when they are ready together (nothing waits: the common case, and the
 * coordinator then handles them in one turn, which keeps its next messages batched too); an
 * answer ready while others wait leaves at most BATCH_LINGER_MS later.
 */
async function writeAnswersAsReady<Ops>(
  res: Response,
  participant: Participant<Ops>,
  messages: BatchRequest["messages"],
  logger: Logger,
): Promise<void> {
  let ready: string[] = [];
  let timer: NodeJS.Timeout | undefined;
  const flush = () => {
    if (timer) clearTimeout(timer);
    timer = undefined;
    if (ready.length > 0) res.write(ready.join(""));
    ready = [];
  };
  // Started in order, so that two messages for one txid meet its mutex in the order sent.
  await Promise.all(
    messages.map((m, i) =>
      handleTwoPhase(participant, m.action, m.txid, m.body ?? {}, `body.messages.${i}.body`)
        .then(
          (body) => ({ status: 200, body }),
          (err: unknown) =>
            errorReply(inBatch(err, i), logger, {
              path: R.batch.path,
              txid: m.txid,
              action: m.action,
            }),
        )
        .then((reply) => {
          timer ??= setTimeout(flush, BATCH_LINGER_MS);
          ready.push(`${JSON.stringify({ index: i, ...reply })}\n`);
        }),
    ),
  );
  if (timer) clearTimeout(timer);
  res.end(ready.join(""));
}

export function mountTwoPhaseRoutes<Ops>(
  app: Express,
  auth: Authenticator,
  participant: Participant<Ops>,
  deps: { pool: pg.Pool; journal: DurableLog; logger: Logger },
): void {
  mountRoute(app, auth, R.health, async (_req, res) => {
    const { ok, body } = await checkHealth(participant.name, deps);
    res.status(ok ? 200 : 503).json(body);
  });

  // Ready: healthy and not stopping (shared/drain.ts). What a load balancer routes by.
  mountRoute(app, auth, R.ready, async (req, res) => {
    const { ok } = await checkHealth(participant.name, deps);
    const { status, body } = readiness(req.app, ok, "participant");
    res.status(status).json(body);
  });

  // One route per message, and a batch route that carries several; both run the same handler.
  const single = {
    prepare: R.prepare,
    "one-phase": R.onePhase,
    commit: R.commit,
    abort: R.abort,
  } as const;
  for (const action of twoPhaseActionSchema.options) {
    mountRoute(app, auth, single[action], async (req, res) => {
      const txid = parseWith(txidSchema, req.params.txid, "params.txid");
      res.json(await handleTwoPhase(participant, action, txid, req.body ?? {}, "body"));
    });
  }

  // Each message's answer is written as soon as it is known, one JSON line each
  // ({index, status, body}): a PREPARE waiting its turn on a row (wait-die lets an older
  // transaction wait) must not hold back the votes of the others in the batch. Held back, a vote
  // that another transaction's commit depends on could wait on the very PREPARE it releases.
  mountRoute(app, auth, R.batch, async (req, res) => {
    const { messages } = parseWith(batchRequestSchema, req.body, "body");
    // The headers leave with the first answers (no message waits past its deadline here: a
    // PREPARE's wait ends before it, see concord_lock_keys), and when nothing waited, with all
    // of them in one write.
    res.status(200).type(NDJSON);
    await writeAnswersAsReady(res, participant, messages, deps.logger);
  });

  // A peer in doubt asks here what we know (cooperative termination). It may write a tombstone, so
  // it is a POST.
  mountRoute(app, auth, R.inquiry, async (req, res) => {
    const txid = parseWith(txidSchema, req.params.txid, "params.txid");
    parseWith(emptyBodySchema, req.body ?? {}, "body");
    res.json({ txid, decision: await participant.peerInquiry(txid) });
  });

  // What this participant knows of a txid: PostgreSQL's view and the journal's. For operators,
  // the coordinator and peers asking during cooperative termination.
  mountRoute(app, auth, R.status, async (req, res) => {
    const txid = parseWith(txidSchema, req.params.txid, "params.txid");
    const [outcome, record] = await Promise.all([
      participant.outcome(txid),
      deps.journal.get(txid),
    ]);
    res.json({
      txid,
      prepared: outcome.prepared,
      outcome: outcome.state ?? null,
      journal: record
        ? {
            state: record.state,
            vote: record.votes[participant.name] ?? null,
            decision: record.decision ?? null,
          }
        : null,
    });
  });
}
