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
export { verdict } from "./invariant-checks.js";
export type { Application, InvariantCheck, LockKey, StatementPlan } from "./application.js";
export type { Migration } from "./pg-store.js";
export type { ParticipantEvent, ParticipantObserver } from "./participant-events.js";
/** PostgreSQL's error codes and how to read one off an error, for `refusalFor`. */
export { PG, pgCode } from "./pg-errors.js";
/** The zod the library's schemas are built with: use it for `operations`, so the versions agree. */
export { z } from "zod";
export type { OperationRules, OperationKindRule } from "../../shared/operation-rules.js";
export { ValidationError, UnavailableError } from "../../shared/errors.js";
export { mountRoute } from "../../shared/routes.js";
export type { RouteSpec } from "../../shared/routes.js";
