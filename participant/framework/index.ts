/**
 * The participant library: run your own service as a Concord participant.
 *
 *   import { startParticipant, VoteNoError } from "concord/participant";
 *
 * See README "Write your own participant".
 */
export { startParticipant } from "./start.js";
export type { RunningParticipant, StartParticipantOptions } from "./start.js";
export { VoteNoError } from "./application.js";
export type { Application, InvariantCheck, LockKey, StatementPlan } from "./application.js";
export type { Migration } from "./pg-store.js";
export type { OperationRules, OperationKindRule } from "../../shared/operation-rules.js";
export { ValidationError, UnavailableError } from "../../shared/errors.js";
export { mountRoute } from "../../shared/routes.js";
export type { RouteSpec } from "../../shared/routes.js";
