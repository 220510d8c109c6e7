/** The coordinator's routes, who may call each, and their schemas (shared/routes.ts). */
import { READINESS_RESPONSES } from "../shared/drain.js";
import {
  decisionInquiryResponseSchema,
  idempotencyKeySchema,
  transactionRequestSchema,
  txidSchema,
} from "../shared/messages.js";
import type { RouteSpec } from "../shared/routes.js";
import { wireErrorSchema } from "../shared/wire-errors.js";
import {
  healthAnswerSchema,
  listQuerySchema,
  transactionDetailSchema,
  transactionListSchema,
  transactionRefusalSchema,
  transactionResultSchema,
  unhealthyAnswerSchema,
} from "./api-schemas.js";

const refusal = (description: string) => ({ description, schema: transactionRefusalSchema });

export const COORDINATOR_ROUTES = {
  health: {
    method: "GET",
    path: "/healthz",
    callers: ["public"],
    summary: "200 when the decision log answers",
    responses: {
      200: { description: "the decision log answers", schema: healthAnswerSchema },
      503: {
        description: "the decision log (Redis) is unreachable",
        schema: unhealthyAnswerSchema,
      },
    },
  },
  ready: {
    method: "GET",
    path: "/readyz",
    callers: ["public"],
    summary: "200 when healthy and taking requests; 503 while stopping (drain) or the log is down",
    responses: READINESS_RESPONSES,
  },
  run: {
    method: "POST",
    path: "/v1/transactions",
    callers: ["client", "admin"],
    summary:
      "runs a transaction; each participant's operations are checked with the schema and rules it publishes (conserved quantities balance; operator-only kinds need the admin secret)",
    body: transactionRequestSchema,
    headers: { "Idempotency-Key": idempotencyKeySchema },
    responses: {
      200: {
        description: "committed, or aborted for a business reason (outcome and reason say which)",
        schema: transactionResultSchema,
      },
      400: refusal("a malformed request or operation (error.field names it); nothing was logged"),
      409: { description: "an Idempotency-Key reused with another body", schema: wireErrorSchema },
      422: refusal("a rule refused it (unbalanced, an unknown account): error.code names it"),
      429: {
        description: "over one of this client's limits; see Retry-After",
        schema: wireErrorSchema,
      },
      503: refusal("outcome unknown (recovery finishes it), or the decision log is unreachable"),
    },
  },
  list: {
    method: "GET",
    path: "/v1/transactions",
    callers: ["client", "admin", "operator"],
    summary: "lists transactions, newest first: a client sees its own, the admin and operator all",
    query: listQuerySchema,
    responses: { 200: { description: "newest first", schema: transactionListSchema } },
  },
  get: {
    method: "GET",
    path: "/v1/transactions/:txid",
    callers: ["client", "admin", "operator"],
    summary: "one transaction and its events; 404 for another client's",
    params: { txid: txidSchema },
    responses: {
      200: { description: "the transaction", schema: transactionDetailSchema },
      404: { description: "unknown, another client's, or expired", schema: wireErrorSchema },
    },
  },
  decision: {
    method: "GET",
    path: "/v1/transactions/:txid/decision",
    callers: ["participant"],
    summary:
      "a participant in doubt asks for the decision (presumed abort); only a participant of that transaction",
    params: { txid: txidSchema },
    responses: {
      200: { description: "the decision, or pending", schema: decisionInquiryResponseSchema },
    },
  },
} as const satisfies Record<string, RouteSpec>;
