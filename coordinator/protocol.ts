/**
 * The two-phase-commit protocol as a pure function: `step(state, event) -> {state, effects}`.
 * No I/O, no clock, no randomness. Every decision the coordinator makes about a transaction is
 * taken here, whoever holds it: the engine running it for a client, recovery finishing it from
 * the log, a participant's inquiry, a client's repeated request (see protocol-types.ts Driver).
 * They execute the effects in order — a decision is written to the log before any COMMIT is
 * sent — and feed what happened back as events. The unit tests drive this through every branch
 * as scripts of events (test/unit/protocol-scripts/).
 */
import { strict as assert } from "node:assert";
import type { Vote } from "../shared/messages.js";
import { onDecisionNotWritten, onInquiry, onRecovered, onReplay } from "./protocol-log.js";
import {
  onAck,
  onDecisionFailed,
  onDecisionStored,
  onDecisionUnknown,
  onEnded,
  onReplyWaitExpired,
} from "./protocol-phase2.js";
import {
  onDeadline,
  onOnePhaseFailed,
  onOnePhaseRefused,
  onOnePhaseResult,
  onPrepareFailed,
  onSettleResult,
  onStart,
  onVote,
} from "./protocol-prepare.js";
import type { CoreState, Event, StepResult } from "./protocol-types.js";

export type {
  Answer,
  CoreState,
  DecidedBy,
  Driver,
  Effect,
  Event,
  Phase,
  StepResult,
} from "./protocol-types.js";
export { fromLog, unknownTransaction, type LoggedTransaction } from "./protocol-log.js";

export interface EngineStateOptions {
  /** Prepare the participants one after the other, in name order (a retry after a conflict). */
  ordered?: boolean;
  /** Sends of the decision each participant gets before phase 2 is handed to recovery. */
  phase2Budget?: number;
}

/** A new transaction, as the engine starts it for a client. */
export function initialState(
  txid: string,
  participants: readonly string[],
  options: EngineStateOptions = {},
): CoreState {
  assert(participants.length > 0, "a transaction needs at least one participant");
  assert(new Set(participants).size === participants.length, "participants must be distinct");
  return {
    txid,
    driver: "engine",
    known: true,
    participants,
    onePhase: participants.length === 1,
    ordered: options.ordered === true && participants.length > 1,
    asked: [],
    phase: "preparing",
    votes: {},
    voteReasons: {},
    requested: undefined,
    decision: undefined,
    reason: undefined,
    phase2Targets: [],
    acks: {},
    loggedAcks: {},
    phase2Failures: {},
    phase2Budget: options.phase2Budget ?? 6,
    refused: [],
    handedOff: false,
    replied: false,
    abortCause: undefined,
  };
}

export function step(state: CoreState, event: Event): StepResult {
  switch (event.type) {
    case "start":
      return onStart(state);
    case "vote":
      return onVote(state, event.participant, event.vote, event.reason);
    case "prepare-failed":
      return onPrepareFailed(state, event.participant, event.reason);
    case "deadline":
      return onDeadline(state);
    case "decision-stored":
      return onDecisionStored(state, event.decision, event.reason, event.votes);
    case "decision-unknown":
      return onDecisionUnknown(state, event.error);
    case "decision-not-written":
      return onDecisionNotWritten(state);
    case "ack":
      return onAck(state, event.participant);
    case "decision-failed":
      return onDecisionFailed(state, event.participant, event.refused);
    case "reply-wait-expired":
      return onReplyWaitExpired(state);
    case "one-phase-result":
      return onOnePhaseResult(state, event.outcome, event.reason, event.refusal);
    case "one-phase-refused":
      return onOnePhaseRefused(state, event.reason);
    case "one-phase-failed":
      return onOnePhaseFailed(state);
    case "settle-result":
      return onSettleResult(state, event.outcome, event.reason);
    case "ended":
      return onEnded(state);
    case "recovered":
      return onRecovered(state, event.deadlinePassed);
    case "inquiry":
      return onInquiry(state, event.asker, event.drivenHere, event.deadlinePassed);
    case "replay":
      return onReplay(state, event.gone);
  }
}

/** Each participant's state as a client sees it. */
export function participantStates(
  state: CoreState,
): { name: string; vote: Vote | "none"; state: string }[] {
  return state.participants.map((name) => {
    if (state.onePhase) return { name, ...onePhaseView(state) };
    const vote = state.votes[name] ?? "none";
    return { name, vote, state: twoPhaseView(state, name, vote) };
  });
}

function onePhaseView(state: CoreState): { vote: Vote | "none"; state: string } {
  if (state.decision === "commit") return { vote: "yes", state: "committed" };
  if (state.decision === "abort") return { vote: "no", state: "aborted" };
  return { vote: "none", state: "pending" };
}

function twoPhaseView(state: CoreState, name: string, vote: Vote | "none"): string {
  if (vote === "read-only") return "read-only";
  if (vote === "no") return "aborted";
  if (state.decision === undefined) return vote === "yes" ? "prepared" : "pending";
  const ended = state.phase === "committed" || state.phase === "aborted";
  const done = ended || state.acks[name] || !state.phase2Targets.includes(name);
  if (state.decision === "commit") return done ? "committed" : "committing";
  return done ? "aborted" : "aborting";
}
