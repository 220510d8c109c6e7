/**
 * The operators' routes on the coordinator (issue 13), with the zod schema of each request and
 * answer beside its spec. Callers: the operator secret (CONCORD_OPERATOR_SECRET) only. The
 * console (coordinator/console/) and the CLI (`npm run concord`) are built on these shapes.
 *
 * THE SHAPES (the contract with the console and the CLI):
 *
 *   GET  /v1/operator/in-doubt[?limit=N]  -> InDoubtAnswer
 *     { at, counts: {undecided, unacked},
 *       participants: [ {name, reachable: true, truncated, prepared: [
 *           {txid, gid, preparedAt, ageMs, journal: {vote?, decision?},
 *            log: "commit"|"abort"|"undecided"|"unknown", state, decidedBy, deadlineAt,
 *            createdAt, logAgeMs} ]}
 *         | {name, reachable: false, error} ],
 *       unfinished: { truncated, transactions: [ {txid, state, decision, reason, decidedBy,
 *           createdAt, deadlineAt, ageMs, onePhase, participants: [{name, vote, acknowledgedAt}]} ] } }
 *     (`log: "unknown"`: the log has no record of the txid; its fields are then null.)
 *
 *   POST /v1/operator/transactions/:txid/abort  body {}  -> ActionAnswer (200)
 *   POST /v1/operator/transactions/:txid/retry  body {}  -> ActionAnswer (200)
 *     { txid, action: "abort"|"retry", decision, decidedBy, alreadyDecided, finished, message,
 *       participants: [{name, result, error?}] }
 *     result: "acknowledged" (told now) | "already-acknowledged" (the log had its ack) |
 *             "not-needed" (it voted no or read-only: nothing prepared to finish) |
 *             "not-acknowledged" (no answer or an error; recovery keeps trying; `error` says why) |
 *             "refused" (it holds the opposite outcome: see the participant's log)
 *     Refusals: 400 invalid-request (field params.txid or body), 404 not-found (no record),
 *       409 already-committed (abort of a committed transaction; nothing changed),
 *       409 undecided (retry without a decision: abort it or wait),
 *       409 already-finished (retry of an ended transaction: nothing to do),
 *       409 one-phase (abort of an undecided one-phase transaction: only its participant decides).
 *
 *   GET  /v1/operator/stats  -> StatsAnswer (see statsAnswerSchema; clients take rates from two
 *     snapshots: counters only grow while the coordinator runs, and uptimeSeconds says when it
 *     restarted).
 */
import { z } from "zod";
import {
  decisionSchema,
  emptyBodySchema,
  queryInt,
  txidSchema,
  voteSchema,
} from "../shared/messages.js";
import { preparedEntrySchema } from "../shared/prepared-messages.js";
import type { RouteSpec } from "../shared/routes.js";
import { wireErrorSchema } from "../shared/wire-errors.js";

const iso = z.string();
const nullableIso = iso.nullable();

// ---- GET /v1/operator/in-doubt ----

export const inDoubtQuerySchema = z.object({ limit: queryInt(1, 1000, 100) }).strict();

export const logViewSchema = z.enum(["commit", "abort", "undecided", "unknown"]);

export const inDoubtPreparedSchema = preparedEntrySchema.extend({
  /** What the decision log says: its decision, "undecided", or "unknown" (no record). */
  log: logViewSchema,
  state: z.string().nullable(),
  decidedBy: z.string().nullable(),
  deadlineAt: nullableIso,
  createdAt: nullableIso,
  /** Since the log's record was made, on the log's (Redis) clock. */
  logAgeMs: z.number().nullable(),
});

export const inDoubtParticipantSchema = z.union([
  z.object({
    name: z.string(),
    reachable: z.literal(true),
    truncated: z.boolean(),
    prepared: z.array(inDoubtPreparedSchema),
  }),
  z.object({ name: z.string(), reachable: z.literal(false), error: z.string() }),
]);

export const unfinishedTransactionSchema = z.object({
  txid: z.string(),
  state: z.string(),
  decision: decisionSchema.nullable(),
  reason: z.string().nullable(),
  decidedBy: z.string().nullable(),
  createdAt: nullableIso,
  deadlineAt: nullableIso,
  ageMs: z.number().nullable(),
  onePhase: z.boolean(),
  participants: z.array(
    z.object({ name: z.string(), vote: voteSchema.nullable(), acknowledgedAt: nullableIso }),
  ),
});

export const inDoubtAnswerSchema = z.object({
  at: iso,
  counts: z.object({ undecided: z.number(), unacked: z.number() }),
  participants: z.array(inDoubtParticipantSchema),
  unfinished: z.object({
    truncated: z.boolean(),
    transactions: z.array(unfinishedTransactionSchema),
  }),
});
export type InDoubtAnswer = z.infer<typeof inDoubtAnswerSchema>;

// ---- POST /v1/operator/transactions/:txid/abort and /retry ----

export const actionRequestSchema = emptyBodySchema;

export const participantResultSchema = z.enum([
  "acknowledged",
  "already-acknowledged",
  "not-needed",
  "not-acknowledged",
  "refused",
]);

export const actionAnswerSchema = z.object({
  txid: z.string(),
  action: z.enum(["abort", "retry"]),
  decision: decisionSchema,
  decidedBy: z.string().nullable(),
  /** The register held this decision before the action (an abort of an aborted transaction). */
  alreadyDecided: z.boolean(),
  /** Every participant that must hear the decision acknowledged it, and the end is logged. */
  finished: z.boolean(),
  message: z.string(),
  participants: z.array(
    z.object({ name: z.string(), result: participantResultSchema, error: z.string().optional() }),
  ),
});
export type ActionAnswer = z.infer<typeof actionAnswerSchema>;

// ---- GET /v1/operator/stats ----

const countsByLabel = z.array(
  z.object({ labels: z.record(z.string(), z.string()), count: z.number() }),
);
const histogramSchema = z.object({
  count: z.number(),
  /** Seconds. */
  sum: z.number(),
  /** Cumulative: how many took at most `le` seconds ("+Inf" for all). */
  buckets: z.array(z.object({ le: z.string(), count: z.number() })),
});

export const statsAnswerSchema = z.object({
  at: iso,
  uptimeSeconds: z.number(),
  /** Client requests ended (all attempts), by outcome; `byReason` splits them by outcome and reason. */
  transactions: z.object({
    committed: z.number(),
    aborted: z.number(),
    unknown: z.number(),
    byReason: countsByLabel,
  }),
  /** Single attempts ended (one txid each), by outcome. */
  attempts: z.object({ committed: z.number(), aborted: z.number(), unknown: z.number() }),
  /** Aborted client requests by reason. */
  abortsByReason: z.record(z.string(), z.number()),
  retries: z.object({ total: z.number(), byReason: z.record(z.string(), z.number()) }),
  inFlight: z.number(),
  /** Read from the log at the time of the snapshot. */
  inDoubt: z.object({ undecided: z.number(), unacked: z.number() }),
  recoveryActions: z.record(z.string(), z.number()),
  /** Per phase: prepare, decide, phase2, end_to_end. */
  latency: z.record(z.string(), histogramSchema),
});
export type StatsAnswer = z.infer<typeof statsAnswerSchema>;

export const OPERATOR_ROUTES = {
  inDoubt: {
    method: "GET",
    path: "/v1/operator/in-doubt",
    callers: ["operator"],
    summary:
      "every participant's prepared transactions with what the log says of each, and the log's unfinished transactions with their acknowledgements",
    query: inDoubtQuerySchema,
    responses: { 200: { description: "the in-doubt view", schema: inDoubtAnswerSchema } },
  },
  abort: {
    method: "POST",
    path: "/v1/operator/transactions/:txid/abort",
    callers: ["operator"],
    summary:
      "aborts an undecided transaction through the write-once decision register, then tells its participants; 409 if the register says commit",
    params: { txid: txidSchema },
    body: actionRequestSchema,
    responses: {
      200: { description: "aborted (or already aborted)", schema: actionAnswerSchema },
      404: { description: "no such transaction; nothing was written", schema: wireErrorSchema },
      409: {
        description: "already-committed, or one-phase: nothing was changed",
        schema: wireErrorSchema,
      },
    },
  },
  retry: {
    method: "POST",
    path: "/v1/operator/transactions/:txid/retry",
    callers: ["operator"],
    summary:
      "sends the register's decision of a decided, unfinished transaction to its participants now (never another decision)",
    params: { txid: txidSchema },
    body: actionRequestSchema,
    responses: {
      200: { description: "the decision sent, per participant", schema: actionAnswerSchema },
      404: { description: "no such transaction", schema: wireErrorSchema },
      409: { description: "undecided, or already-finished", schema: wireErrorSchema },
    },
  },
  stats: {
    method: "GET",
    path: "/v1/operator/stats",
    callers: ["operator"],
    summary:
      "a snapshot of the coordinator's counters: outcomes, abort reasons, retries, in flight, in doubt, latency per phase",
    query: z.object({}).strict(),
    responses: { 200: { description: "the counters now", schema: statsAnswerSchema } },
  },
} as const satisfies Record<string, RouteSpec>;
