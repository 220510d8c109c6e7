/** The participant framework's routes and who may call each (shared/routes.ts). */
import type { RouteSpec } from "../../shared/routes.js";

// The answer of `prepared` (GET /v1/prepared), for the coordinator's operator API and OpenAPI.
export { preparedAnswerSchema } from "../../shared/prepared-messages.js";

export const PARTICIPANT_ROUTES = {
  health: {
    method: "GET",
    path: "/healthz",
    callers: ["public"],
    summary: "200 when PostgreSQL and the journal answer",
  },
  prepare: {
    method: "POST",
    path: "/v1/2pc/:txid/prepare",
    callers: ["coordinator"],
    summary: "executes the operations and prepares; answers the vote",
  },
  onePhase: {
    method: "POST",
    path: "/v1/2pc/:txid/one-phase",
    callers: ["coordinator"],
    summary: "executes and commits locally (a transaction of one participant)",
  },
  commit: {
    method: "POST",
    path: "/v1/2pc/:txid/commit",
    callers: ["coordinator"],
    summary: "COMMIT PREPARED",
  },
  abort: {
    method: "POST",
    path: "/v1/2pc/:txid/abort",
    callers: ["coordinator"],
    summary: "ROLLBACK PREPARED, or a tombstone when nothing is prepared",
  },
  batch: {
    method: "POST",
    path: "/v1/2pc/batch",
    callers: ["coordinator"],
    summary: "several of the four messages above, each validated and answered as on its own route",
  },
  inquiry: {
    method: "POST",
    path: "/v1/2pc/:txid/inquiry",
    callers: ["peer"],
    summary: "a peer in doubt asks what this participant knows (cooperative termination)",
  },
  status: {
    method: "GET",
    path: "/v1/2pc/:txid",
    callers: ["coordinator", "peer", "admin"],
    summary: "what this participant knows of a txid: prepared, outcome, journal",
  },
  descriptor: {
    method: "GET",
    path: "/v1/descriptor",
    callers: ["coordinator", "admin"],
    summary:
      "the application's operations as JSON Schema with their rules (lock keys, conserved quantities, operator-only kinds)",
  },
  prepared: {
    method: "GET",
    path: "/v1/prepared",
    callers: ["coordinator", "operator"],
    summary:
      "the transactions prepared here (pg_prepared_xacts, Concord's own gids), oldest first, with what the journal says of each",
  },
  invariants: {
    method: "GET",
    path: "/v1/invariants",
    callers: ["admin"],
    summary: "the application's invariant checks over its database (meant for a cluster at rest)",
  },
} as const satisfies Record<string, RouteSpec>;
