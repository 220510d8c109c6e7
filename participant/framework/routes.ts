/** The participant framework's routes, who may call each, and their schemas (shared/routes.ts). */
import { preparedAnswerSchema } from "../../shared/prepared-messages.js";
import { READINESS_RESPONSES } from "../../shared/drain.js";
import { z } from "zod";
import { NDJSON } from "../../shared/http-client.js";
import {
  batchReplyLineSchema,
  batchRequestSchema,
  decisionAckSchema,
  emptyBodySchema,
  onePhaseResponseSchema,
  peerInquiryResponseSchema,
  prepareRequestSchema,
  prepareResponseSchema,
  txidSchema,
} from "../../shared/messages.js";
import { participantDescriptorSchema } from "../../shared/participant-descriptor.js";
import type { RouteSpec } from "../../shared/routes.js";
import { wireErrorSchema } from "../../shared/wire-errors.js";

const params = { txid: txidSchema };
const stateConflict = (codes: string) => ({
  description: `what this participant holds for the txid refuses it (${codes})`,
  schema: wireErrorSchema,
});
const ack = (state: string) => ({
  description: `the transaction is ${state} here (also when repeated)`,
  schema: decisionAckSchema,
});

const healthAnswerSchema = z.object({
  status: z.enum(["ok", "degraded"]),
  role: z.literal("participant"),
  name: z.string(),
  postgres: z.enum(["ok", "unreachable"]),
  journal: z.enum(["ok", "unreachable"]),
});

const statusAnswerSchema = z.object({
  txid: txidSchema,
  prepared: z.boolean(),
  outcome: z.enum(["committed", "aborted"]).nullable(),
  journal: z
    .object({ state: z.string(), vote: z.string().nullable(), decision: z.string().nullable() })
    .nullable(),
});

const invariantsAnswerSchema = z.object({
  participant: z.string(),
  application: z.string(),
  holds: z.boolean(),
  checks: z.array(
    z.object({ name: z.string(), holds: z.boolean(), detail: z.string() }).passthrough(),
  ),
});

// The answer of `prepared` (GET /v1/prepared), for the coordinator's operator API and OpenAPI.
export { preparedAnswerSchema };

export const PARTICIPANT_ROUTES = {
  health: {
    method: "GET",
    path: "/healthz",
    callers: ["public"],
    summary: "200 when PostgreSQL and the journal answer",
    responses: {
      200: { description: "both answer", schema: healthAnswerSchema },
      503: { description: "PostgreSQL or the journal is unreachable", schema: healthAnswerSchema },
    },
  },
  ready: {
    method: "GET",
    path: "/readyz",
    callers: ["public"],
    summary: "200 when healthy and taking requests; 503 while stopping (drain) or a store is down",
    responses: READINESS_RESPONSES,
  },
  prepare: {
    method: "POST",
    path: "/v1/2pc/:txid/prepare",
    callers: ["coordinator"],
    summary: "executes the operations and prepares; answers the vote",
    params,
    body: prepareRequestSchema,
    responses: {
      200: { description: "the vote", schema: prepareResponseSchema },
      409: stateConflict("already-committed, already-aborted"),
    },
  },
  onePhase: {
    method: "POST",
    path: "/v1/2pc/:txid/one-phase",
    callers: ["coordinator"],
    summary: "executes and commits locally (a transaction of one participant)",
    params,
    body: prepareRequestSchema,
    responses: {
      200: { description: "the local outcome", schema: onePhaseResponseSchema },
      409: stateConflict("already-prepared"),
    },
  },
  commit: {
    method: "POST",
    path: "/v1/2pc/:txid/commit",
    callers: ["coordinator"],
    summary: "COMMIT PREPARED",
    params,
    body: emptyBodySchema,
    responses: { 200: ack("committed"), 409: stateConflict("not-prepared, already-aborted") },
  },
  abort: {
    method: "POST",
    path: "/v1/2pc/:txid/abort",
    callers: ["coordinator"],
    summary: "ROLLBACK PREPARED, or a tombstone when nothing is prepared",
    params,
    body: emptyBodySchema,
    responses: { 200: ack("aborted"), 409: stateConflict("already-committed") },
  },
  batch: {
    method: "POST",
    path: "/v1/2pc/batch",
    callers: ["coordinator"],
    summary: "several of the four messages above, each validated and answered as on its own route",
    body: batchRequestSchema,
    responses: {
      200: {
        description:
          "one JSON line per message as its answer is ready: its index, and the status and body it would have had on its own route",
        schema: batchReplyLineSchema,
        contentType: NDJSON,
      },
    },
  },
  inquiry: {
    method: "POST",
    path: "/v1/2pc/:txid/inquiry",
    callers: ["peer"],
    summary: "a peer in doubt asks what this participant knows (cooperative termination)",
    params,
    body: emptyBodySchema,
    responses: { 200: { description: "what it knows", schema: peerInquiryResponseSchema } },
  },
  status: {
    method: "GET",
    path: "/v1/2pc/:txid",
    callers: ["coordinator", "peer", "admin"],
    summary: "what this participant knows of a txid: prepared, outcome, journal",
    params,
    responses: {
      200: { description: "PostgreSQL's and the journal's view", schema: statusAnswerSchema },
    },
  },
  descriptor: {
    method: "GET",
    path: "/v1/descriptor",
    callers: ["coordinator", "admin"],
    summary:
      "the application's operations as JSON Schema with their rules (lock keys, conserved quantities, operator-only kinds)",
    responses: { 200: { description: "the descriptor", schema: participantDescriptorSchema } },
  },
  prepared: {
    method: "GET",
    path: "/v1/prepared",
    callers: ["coordinator", "operator"],
    summary:
      "the transactions prepared here (pg_prepared_xacts, Concord's own gids), oldest first, with what the journal says of each",
    responses: {
      200: { description: "the prepared transactions, oldest first", schema: preparedAnswerSchema },
    },
  },
  invariants: {
    method: "GET",
    path: "/v1/invariants",
    callers: ["admin"],
    summary: "the application's invariant checks over its database (meant for a cluster at rest)",
    responses: {
      200: { description: "each check and whether it holds", schema: invariantsAnswerSchema },
    },
  },
} as const satisfies Record<string, RouteSpec>;
