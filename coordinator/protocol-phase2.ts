/**
 * The core's second phase: what follows the register's answer. The stored decision goes to the
 * participants that must hear it, each send that fails is retried within a budget, and the
 * transaction either ends (everyone acknowledged) or is handed to recovery. Pure functions of
 * (state, event); see protocol.ts.
 */
import { strict as assert } from "node:assert";
import type { Decision, Vote } from "../shared/messages.js";
import { none, type CoreState, type Effect, type StepResult } from "./protocol-types.js";

export function onDecisionStored(
  before: CoreState,
  decision: Decision,
  reason: string,
  storedVotes: Readonly<Record<string, Vote>> | undefined,
): StepResult {
  const state = storedVotes ? { ...before, votes: { ...before.votes, ...storedVotes } } : before;
  if (state.decision !== undefined) {
    assert.equal(decision, state.decision, "the write-once register returned two decisions");
    return none(state);
  }
  if (state.onePhase && state.requested !== undefined) {
    // The participant decided; the register may only repeat it (recovery settles a one-phase
    // transaction by asking the participant, never by presuming).
    assert.equal(decision, state.requested, "a one-phase decision differs from the participant's");
  }
  if (decision === "commit" && !state.onePhase) {
    // The invariant the whole system rests on: nobody stores COMMIT unless every vote was YES.
    assert(
      state.participants.every((p) => state.votes[p] === "yes" || state.votes[p] === "read-only"),
      "a COMMIT decision is stored but not every participant voted YES",
    );
  }
  const next: CoreState = {
    ...state,
    phase: decision === "commit" ? "committing" : "aborting",
    decision,
    reason,
    phase2Targets: state.onePhase ? [] : phase2Targets(state, decision),
  };
  // An inquiry or a replay answers; the participants hear the decision from the engine or recovery.
  if (state.driver === "inquiry") return answerDecision(next);
  if (state.driver === "replay") return answerReplay(next);
  return startPhase2(next);
}

/**
 * COMMIT goes to YES voters; ABORT to everyone who might hold a prepared transaction: each
 * participant sent a PREPARE, unless it voted NO or read-only.
 */
export function phase2Targets(state: CoreState, decision: Decision): string[] {
  if (decision === "commit") return state.participants.filter((p) => state.votes[p] === "yes");
  return state.participants.filter(
    (p) => state.asked.includes(p) && state.votes[p] !== "no" && state.votes[p] !== "read-only",
  );
}

/** Sends the decision to every target that has not acknowledged it, or ends if none is left. */
export function startPhase2(state: CoreState): StepResult {
  const { decision } = state;
  assert(decision !== undefined, "phase 2 without a decision");
  const waiting = state.phase2Targets.filter((p) => !state.acks[p]);
  if (waiting.length === 0) return end(state);
  const sends: Effect[] = waiting.map((participant) => ({
    type: "send-decision",
    participant,
    decision,
    attempt: 0,
  }));
  return { state, effects: sends };
}

/** Every target acknowledged: write the end record, and answer whoever still waits. */
function end(state: CoreState): StepResult {
  const acked = state.phase2Targets.filter((p) => !state.loggedAcks[p]);
  const effects: Effect[] = [{ type: "write-end", acked }];
  // The client may already have heard "unknown" (decision-unknown), and is never answered twice.
  if (!state.replied) effects.push(replyEffect(state));
  return { state: { ...state, replied: true }, effects };
}

export function onAck(state: CoreState, participant: string): StepResult {
  assert(state.decision !== undefined, "an acknowledgement before any decision was sent");
  if (!state.phase2Targets.includes(participant) || state.acks[participant]) return none(state);
  const next: CoreState = { ...state, acks: { ...state.acks, [participant]: true } };
  if (next.phase2Targets.every((p) => next.acks[p])) return end(next);
  return settledWithout(next);
}

/**
 * A send that got no acknowledgement is sent again while the budget lasts. A participant that
 * holds the opposite outcome is never sent again: the invariant is broken somewhere, and the
 * transaction stays visible in the log's unacknowledged index for an operator.
 */
export function onDecisionFailed(
  state: CoreState,
  participant: string,
  refused: boolean,
): StepResult {
  const { decision } = state;
  assert(decision !== undefined, "a failed send before any decision was sent");
  if (!state.phase2Targets.includes(participant) || state.acks[participant]) return none(state);
  const failures = (state.phase2Failures[participant] ?? 0) + 1;
  const next: CoreState = {
    ...state,
    phase2Failures: { ...state.phase2Failures, [participant]: failures },
    refused: refused ? [...state.refused, participant] : state.refused,
  };
  if (!refused && failures < state.phase2Budget && !state.handedOff) {
    const resend: Effect = { type: "send-decision", participant, decision, attempt: failures };
    return { state: next, effects: [resend] };
  }
  return settledWithout(next);
}

/** A target has an answer when it acknowledged, refused, or used up its sends. */
function settledWithout(state: CoreState): StepResult {
  const open = state.phase2Targets.some(
    (p) =>
      !state.acks[p] &&
      !state.refused.includes(p) &&
      (state.phase2Failures[p] ?? 0) < state.phase2Budget,
  );
  if (open || state.handedOff) return none(state);
  return handOff(state);
}

/** Records the acknowledgements so far and lets recovery resend the rest. */
function handOff(state: CoreState): StepResult {
  const acked = state.phase2Targets.filter((p) => state.acks[p] && !state.loggedAcks[p]);
  const effects: Effect[] = [];
  if (!state.replied) effects.push(replyEffect(state));
  effects.push({ type: "hand-off", acked });
  return { state: { ...state, replied: true, handedOff: true }, effects };
}

export function onReplyWaitExpired(state: CoreState): StepResult {
  if (state.replied || state.decision === undefined) return none(state);
  return { state: { ...state, replied: true }, effects: [replyEffect(state)] };
}

export function onDecisionUnknown(state: CoreState, error: string): StepResult {
  if (state.decision !== undefined) return none(state);
  // A participant that asked is told there is no decision yet: it asks again later.
  if (state.driver === "inquiry") {
    const answer = { type: "answer", answer: { kind: "pending" } } as const;
    return { state: { ...state, replied: true }, effects: [answer] };
  }
  const effects: Effect[] = [];
  if (!state.replied) {
    const reason = `the decision could not be recorded (${error}); recovery will finish the transaction`;
    effects.push({ type: "reply", outcome: "unknown", reason });
  }
  effects.push({ type: "let-go", index: "undecided" });
  return { state: { ...state, replied: true }, effects };
}

export function onEnded(state: CoreState): StepResult {
  assert(state.decision !== undefined, "end without a decision");
  return none({ ...state, phase: state.decision === "commit" ? "committed" : "aborted" });
}

export function replyEffect(state: CoreState): Effect {
  assert(state.decision !== undefined);
  const outcome = state.decision === "commit" ? "committed" : "aborted";
  return { type: "reply", outcome, reason: state.reason };
}

function answerDecision(state: CoreState): StepResult {
  assert(state.decision !== undefined);
  const answer = { kind: "decision", decision: state.decision } as const;
  return { state: { ...state, replied: true }, effects: [{ type: "answer", answer }] };
}

function answerReplay(state: CoreState): StepResult {
  return { state: { ...state, replied: true }, effects: [replyEffect(state)] };
}
