/**
 * `concord/client`: the typed client of the coordinator's transaction API.
 *
 *   import { CoordinatorClient } from "concord/client";
 */
export { CoordinatorClient, type CoordinatorClientOptions } from "./coordinator-client.js";
export type { ListRequest, ParticipantOperations, RunRequest } from "./requests.js";
export type { AbortedResult, CommittedResult, RunResult, UnknownResult } from "./results.js";
export {
  ConcordClientError,
  CoordinatorRequestError,
  CoordinatorResponseError,
  CoordinatorUnavailableError,
} from "./errors.js";
export {
  LIST_STATES,
  type Attempt,
  type ListState,
  type ParticipantPart,
  type RunAnswer,
  type TransactionDetail,
  type TransactionOutcome,
  type TransactionSummary,
  type WireErrorBody,
} from "./answers.js";
export { ERROR_CODES, type ErrorCode } from "../wire-errors.js";
export type { BackoffPolicy } from "../backoff.js";
export { ISOLATION_LEVELS, type IsolationLevel } from "../isolation.js";
