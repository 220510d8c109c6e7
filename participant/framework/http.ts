/** The participant's 2PC endpoints. Bodies are validated before anything runs. */
import type { Express } from "express";
import type pg from "pg";
import type { DurableLog } from "../../shared/durable-log.js";
import { parseWith } from "../../shared/http-server.js";
import { emptyBodySchema, prepareRequestSchema, txidSchema } from "../../shared/messages.js";
import type { Participant } from "./participant.js";

export function mountTwoPhaseRoutes<Ops>(app: Express, participant: Participant<Ops>, deps: { pool: pg.Pool; journal: DurableLog }): void {
  app.get("/healthz", async (_req, res) => {
    const checks = await Promise.allSettled([deps.pool.query("SELECT 1"), deps.journal.redis.ping()]);
    const [pgCheck, redisCheck] = checks.map((c) => (c.status === "fulfilled" ? "ok" : "unreachable"));
    const ok = checks.every((c) => c.status === "fulfilled");
    res.status(ok ? 200 : 503).json({ status: ok ? "ok" : "degraded", role: "participant", name: participant.name, postgres: pgCheck, journal: redisCheck });
  });

  app.post("/v1/2pc/:txid/prepare", async (req, res) => {
    const txid = parseWith(txidSchema, req.params.txid, "params.txid");
    const body = parseWith(prepareRequestSchema, req.body, "body");
    res.json(await participant.prepare(txid, body.operations, body.timeoutMs, body.participants));
  });

  app.post("/v1/2pc/:txid/one-phase", async (req, res) => {
    const txid = parseWith(txidSchema, req.params.txid, "params.txid");
    const body = parseWith(prepareRequestSchema, req.body, "body");
    res.json(await participant.onePhase(txid, body.operations, body.timeoutMs));
  });

  app.post("/v1/2pc/:txid/commit", async (req, res) => {
    const txid = parseWith(txidSchema, req.params.txid, "params.txid");
    parseWith(emptyBodySchema, req.body ?? {}, "body");
    res.json(await participant.commit(txid));
  });

  app.post("/v1/2pc/:txid/abort", async (req, res) => {
    const txid = parseWith(txidSchema, req.params.txid, "params.txid");
    parseWith(emptyBodySchema, req.body ?? {}, "body");
    res.json(await participant.abort(txid));
  });

  // A peer in doubt asks what we know (cooperative termination). It may write a tombstone, so
  // it is a POST.
  app.post("/v1/2pc/:txid/inquiry", async (req, res) => {
    const txid = parseWith(txidSchema, req.params.txid, "params.txid");
    parseWith(emptyBodySchema, req.body ?? {}, "body");
    res.json({ txid, decision: await participant.peerInquiry(txid) });
  });

  // What this participant knows of a txid: PostgreSQL's view and the journal's. For operators,
  // tests, and (later) peers asking during cooperative termination.
  app.get("/v1/2pc/:txid", async (req, res) => {
    const txid = parseWith(txidSchema, req.params.txid, "params.txid");
    const [outcome, record] = await Promise.all([participant.outcome(txid), deps.journal.get(txid)]);
    res.json({
      txid,
      prepared: outcome.prepared,
      outcome: outcome.state ?? null,
      journal: record ? { state: record.state, vote: record.votes[participant.name] ?? null, decision: record.decision ?? null } : null,
    });
  });
}
