/** The coordinator's routes and who may call each (shared/routes.ts). */
import type { RouteSpec } from "../shared/routes.js";

export const COORDINATOR_ROUTES = {
  health: {
    method: "GET",
    path: "/healthz",
    callers: ["public"],
    summary: "200 when the decision log answers",
  },
  ready: {
    method: "GET",
    path: "/readyz",
    callers: ["public"],
    summary: "200 when healthy and taking requests; 503 while stopping (drain) or the log is down",
  },
  run: {
    method: "POST",
    path: "/v1/transactions",
    callers: ["client", "admin"],
    summary:
      "runs a transaction; each participant's operations are checked with the schema and rules it publishes (conserved quantities balance; operator-only kinds need the admin secret)",
  },
  list: {
    method: "GET",
    path: "/v1/transactions",
    callers: ["client", "admin", "operator"],
    summary: "lists transactions, newest first: a client sees its own, the admin and operator all",
  },
  get: {
    method: "GET",
    path: "/v1/transactions/:txid",
    callers: ["client", "admin", "operator"],
    summary: "one transaction and its events; 404 for another client's",
  },
  decision: {
    method: "GET",
    path: "/v1/transactions/:txid/decision",
    callers: ["participant"],
    summary:
      "a participant in doubt asks for the decision (presumed abort); only a participant of that transaction",
  },
} as const satisfies Record<string, RouteSpec>;
