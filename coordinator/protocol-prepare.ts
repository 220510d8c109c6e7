/**
 * The core's first phase: the prepare round of a two-phase transaction, the single request of a
 * one-phase one, and the request for a decision that ends either. Pure functions of
 * (state, event); see protocol.ts.
 */
import { strict as assert } from "node:assert";
import type { Decision, Vote } from "../shared/messages.js";
import { decidedBy, none, type CoreState, type Effect, type StepResult } from "./protocol-types.js";

export function onStart(state: CoreState): StepResult {
  assert.equal(state.driver, "engine", "only the engine starts a transaction");
  assert(state.phase === "preparing" && state.asked.length === 0, "start happens once, first");
  const [only] = state.participants;
  if (state.onePhase && only !== undefined) {
    return { state, effects: [{ type: "send-one-phase", participant: only }] };
  }
  if (state.ordered) return askNext(state);
  return {
    state: { ...state, asked: state.participants },
    effects: state.participants.map(
      (participant) => ({ type: "send-prepare", participant }) as const,
    ),
  };
}

/** The participants in the order an ordered transaction prepares them: by name. */
function preparationOrder(participants: readonly string[]): string[] {
  return [...participants].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/** Ordered: the PREPARE of the first participant, in name order, not asked yet. */
function askNext(state: CoreState): StepResult {
  const next = preparationOrder(state.participants).find((p) => !state.asked.includes(p));
  if (next === undefined) return none(state);
  return {
    state: { ...state, asked: [...state.asked, next] },
    effects: [{ type: "send-prepare", participant: next }],
  };
}

const votedToCommit = (vote: Vote | undefined) => vote === "yes" || vote === "read-only";

export function onVote(
  state: CoreState,
  participant: string,
  vote: Vote,
  reason: string | undefined,
): StepResult {
  assert(state.participants.includes(participant), `vote from a non-participant: ${participant}`);
  assert(!state.onePhase, "a one-phase transaction has no votes");
  if (state.votes[participant] !== undefined) return none(state);
  const votes = { ...state.votes, [participant]: vote };
  const voteReasons = reason ? { ...state.voteReasons, [participant]: reason } : state.voteReasons;
  const next: CoreState = { ...state, votes, voteReasons };
  // A late vote (after the deadline or another NO) changes nothing: the abort already goes to
  // every participant that might be prepared.
  if (state.phase !== "preparing") return none(next);
  if (vote === "no") {
    const because = `${participant} voted no${reason ? `: ${reason}` : ""}`;
    const abortCause = { participant, reason: reason ?? "unspecified" };
    return requestDecision({ ...next, abortCause }, "abort", because);
  }
  const allVoted = state.participants.every((p) => votes[p] !== undefined);
  if (!allVoted) return state.ordered ? askNext(next) : none(next);
  return requestDecision(next, "commit", "all participants voted yes");
}

/**
 * No usable answer is not a NO: the PREPARE may have run and be prepared right now. So the
 * transaction aborts, and the participant stays a target of the ABORT (no vote is recorded).
 */
export function onPrepareFailed(state: CoreState, participant: string, reason: string): StepResult {
  assert(
    state.participants.includes(participant),
    `prepare failure of a non-participant: ${participant}`,
  );
  if (state.phase !== "preparing" || state.votes[participant] !== undefined) return none(state);
  const next: CoreState = {
    ...state,
    voteReasons: { ...state.voteReasons, [participant]: reason },
  };
  return requestDecision(next, "abort", `${participant} did not vote: ${reason}`);
}

export function onDeadline(state: CoreState): StepResult {
  // One phase has no deadline of its own: the participant decides, bounded by its request timeout.
  if (state.phase !== "preparing" || state.onePhase || state.driver !== "engine")
    return none(state);
  const missing = state.participants.filter((p) => state.votes[p] === undefined);
  return requestDecision(state, "abort", `deadline passed before ${missing.join(", ")} voted`);
}

/** Asks the register for a decision; nothing else happens until it answers. */
export function requestDecision(state: CoreState, decision: Decision, reason: string): StepResult {
  if (decision === "commit" && !state.onePhase) {
    assert(
      state.participants.every((p) => votedToCommit(state.votes[p])),
      "COMMIT requested without every vote being YES",
    );
  }
  const next: CoreState = { ...state, phase: "deciding", requested: decision };
  const by = decidedBy(state.driver);
  const write: Effect = { type: "write-decision", decision, reason, votes: { ...state.votes }, by };
  return { state: next, effects: [write] };
}

export function onOnePhaseResult(
  state: CoreState,
  outcome: "committed" | "aborted",
  reason: string | undefined,
  refusal: string | undefined,
): StepResult {
  assert(state.onePhase, "a one-phase result in a two-phase transaction");
  if (state.phase !== "preparing") return none(state);
  // The participant's outcome *is* the decision; the register records it for the query API
  // and so that recovery never contradicts it.
  const decision: Decision = outcome === "committed" ? "commit" : "abort";
  const [only] = state.participants;
  const abortCause =
    decision === "abort" && refusal !== undefined && only !== undefined
      ? { participant: only, reason: refusal }
      : undefined;
  const because = reason ?? `${outcome} in one phase`;
  return requestDecision({ ...state, abortCause }, decision, because);
}

/** Refused as malformed (a 4xx): the participant did nothing, so the abort is certain. */
export function onOnePhaseRefused(state: CoreState, reason: string): StepResult {
  const [only] = state.participants;
  return onOnePhaseResult(state, "aborted", `${only ?? "?"}: ${reason}`, undefined);
}

export function onOnePhaseFailed(state: CoreState): StepResult {
  assert(state.onePhase, "a one-phase failure in a two-phase transaction");
  if (state.phase !== "preparing") return none(state);
  return settle(state);
}

/**
 * We cannot presume abort: the participant may have committed before its answer was lost.
 * ABORT either makes sure it never commits (a tombstone) or is refused because it did.
 */
export function settle(state: CoreState): StepResult {
  const [only] = state.participants;
  assert(only !== undefined && state.onePhase, "only a one-phase transaction is settled");
  return { state, effects: [{ type: "settle-one-phase", participant: only }] };
}

export function onSettleResult(
  state: CoreState,
  outcome: "aborted" | "committed" | "unknown",
  reason: string,
): StepResult {
  assert(state.onePhase, "a settle result in a two-phase transaction");
  if (state.phase !== "preparing") return none(state);
  if (outcome === "unknown") return unsettled(state, reason);
  const [only] = state.participants;
  const because =
    state.driver === "recovery"
      ? "settled one phase by recovery"
      : outcome === "aborted"
        ? `${only ?? "?"}: no answer; aborted`
        : "committed in one phase";
  return requestDecision(state, outcome === "committed" ? "commit" : "abort", because);
}

/** The participant could not say: tell the client so, and leave it to recovery to ask again. */
function unsettled(state: CoreState, reason: string): StepResult {
  const effects: Effect[] = [];
  if (!state.replied) {
    effects.push({
      type: "reply",
      outcome: "unknown",
      reason: `the decision could not be recorded (settling one phase: ${reason}); recovery will finish the transaction`,
    });
  }
  effects.push({ type: "let-go", index: "undecided" });
  return { state: { ...state, replied: true }, effects };
}
