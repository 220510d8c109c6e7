/**
 * The two-phase-commit protocol as a pure function: `step(state, event) -> {state, effects}`.
 * No I/O, no clock, no randomness. The engine executes the effects in order — a decision is
 * written to the log before any COMMIT is sent — and feeds what happened back as events. The
 * unit tests drive this through every branch as scripts of events.
 */
import { strict as assert } from "node:assert";
import type { Decision, Vote } from "../shared/messages.js";

export type Phase = "preparing" | "deciding" | "committing" | "aborting" | "committed" | "aborted";

export interface CoreState {
  readonly txid: string;
  readonly participants: readonly string[];
  /** One participant: no prepare round, the participant commits or aborts on its own. */
  readonly onePhase: boolean;
  /**
   * PREPAREs go one participant after the other, in name order, each after the previous vote
   * (a retry after a conflict: see pg-store.ts concord_lock_keys); otherwise all at once.
   */
  readonly ordered: boolean;
  /** Participants that were sent a PREPARE. */
  readonly asked: readonly string[];
  readonly phase: Phase;
  readonly votes: Readonly<Record<string, Vote>>;
  /** Why a participant voted no or could not be asked, for the client and the log. */
  readonly voteReasons: Readonly<Record<string, string>>;
  /** The decision the engine asked the log to store (the stored one may differ). */
  readonly requested: Decision | undefined;
  /** The decision read back from the write-once register: the only one anyone acts on. */
  readonly decision: Decision | undefined;
  readonly reason: string | undefined;
  /** Participants that must hear the decision, and which of them acknowledged it. */
  readonly phase2Targets: readonly string[];
  readonly acks: Readonly<Record<string, true>>;
  readonly replied: boolean;
  /**
   * The refusal that made this run abort: the first NO vote (or the single participant's refusal
   * in one phase), with its reason. Undefined when it aborted for anything else (a participant
   * that did not answer, the deadline): only a refusal says whether running again can help.
   */
  readonly abortCause: { participant: string; reason: string } | undefined;
}

export type Event =
  | { type: "start" }
  | { type: "vote"; participant: string; vote: Vote; reason?: string }
  /** No usable answer to PREPARE (refused, timed out, 5xx): counts as a NO. */
  | { type: "prepare-failed"; participant: string; reason: string }
  | { type: "deadline" }
  | { type: "decision-stored"; decision: Decision; reason: string }
  /** The decision write failed and we cannot know whether it was stored: recovery will tell. */
  | { type: "decision-unknown"; error: string }
  | { type: "ack"; participant: string }
  /** How long a client waits for phase 2 has passed: answer with the decision now. */
  | { type: "reply-wait-expired" }
  /** `refusal`: the participant's own reason for aborting, when it refused. */
  | {
      type: "one-phase-result";
      outcome: "committed" | "aborted";
      reason?: string;
      refusal?: string;
    }
  /** The one-phase request got no answer: its outcome must be settled by asking again (ABORT). */
  | { type: "one-phase-failed"; reason: string }
  | { type: "ended" };

export type Effect =
  | { type: "send-prepare"; participant: string }
  | { type: "send-one-phase"; participant: string }
  /** Ask the single participant to abort unless it already committed; it answers which. */
  | { type: "settle-one-phase"; participant: string }
  | { type: "write-decision"; decision: Decision; reason: string; votes: Record<string, Vote> }
  | { type: "send-decision"; participant: string; decision: Decision }
  | { type: "write-end"; acked: string[] }
  | { type: "reply"; outcome: "committed" | "aborted" | "unknown"; reason: string | undefined };

export interface StepResult {
  state: CoreState;
  effects: Effect[];
}

export function initialState(
  txid: string,
  participants: readonly string[],
  options: { ordered?: boolean } = {},
): CoreState {
  assert(participants.length > 0, "a transaction needs at least one participant");
  assert(new Set(participants).size === participants.length, "participants must be distinct");
  return {
    txid,
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
      return onDecisionStored(state, event.decision, event.reason);
    case "decision-unknown":
      return onDecisionUnknown(state, event.error);
    case "ack":
      return onAck(state, event.participant);
    case "reply-wait-expired":
      return onReplyWaitExpired(state);
    case "one-phase-result":
      return onOnePhaseResult(state, event.outcome, event.reason, event.refusal);
    case "one-phase-failed":
      return onOnePhaseFailed(state);
    case "ended":
      return onEnded(state);
  }
}

const none = (state: CoreState): StepResult => ({ state, effects: [] });

function onStart(state: CoreState): StepResult {
  assert.equal(state.phase, "preparing", "start happens once, first");
  const [only] = state.participants;
  if (state.onePhase && only !== undefined)
    return { state, effects: [{ type: "send-one-phase", participant: only }] };
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

function onVote(
  state: CoreState,
  participant: string,
  vote: Vote,
  reason: string | undefined,
): StepResult {
  assert(
    state.participants.includes(participant),
    `vote from a participant not in the transaction: ${participant}`,
  );
  assert(!state.onePhase, "a one-phase transaction has no votes");
  if (state.votes[participant] !== undefined) return none(state);
  const votes = { ...state.votes, [participant]: vote };
  const voteReasons = reason ? { ...state.voteReasons, [participant]: reason } : state.voteReasons;
  const next: CoreState = { ...state, votes, voteReasons };
  // A late vote (after the deadline or another NO) changes nothing: the abort already goes to
  // every participant that might be prepared.
  if (state.phase !== "preparing") return none(next);
  if (vote === "no") {
    return requestDecision(
      { ...next, abortCause: { participant, reason: reason ?? "unspecified" } },
      "abort",
      `${participant} voted no${reason ? `: ${reason}` : ""}`,
    );
  }
  const allVoted = state.participants.every((p) => votes[p] !== undefined);
  if (!allVoted) return state.ordered ? askNext(next) : none(next);
  return requestDecision(next, "commit", "all participants voted yes");
}

/**
 * No usable answer is not a NO: the PREPARE may have run and be prepared right now. So the
 * transaction aborts, and the participant stays a target of the ABORT (no vote is recorded).
 */
function onPrepareFailed(state: CoreState, participant: string, reason: string): StepResult {
  assert(
    state.participants.includes(participant),
    `prepare failure of a participant not in the transaction: ${participant}`,
  );
  if (state.phase !== "preparing" || state.votes[participant] !== undefined) return none(state);
  const next: CoreState = {
    ...state,
    voteReasons: { ...state.voteReasons, [participant]: reason },
  };
  return requestDecision(next, "abort", `${participant} did not vote: ${reason}`);
}

function onDeadline(state: CoreState): StepResult {
  // One phase has no deadline of its own: the participant decides, bounded by its request timeout.
  if (state.phase !== "preparing" || state.onePhase) return none(state);
  const missing = state.participants.filter((p) => state.votes[p] === undefined);
  return requestDecision(state, "abort", `deadline passed before ${missing.join(", ")} voted`);
}

function requestDecision(state: CoreState, decision: Decision, reason: string): StepResult {
  if (decision === "commit") {
    assert(
      state.participants.every((p) => state.votes[p] === "yes" || state.votes[p] === "read-only"),
      "COMMIT requested without every vote being YES",
    );
  }
  const next: CoreState = { ...state, phase: "deciding", requested: decision };
  return {
    state: next,
    effects: [{ type: "write-decision", decision, reason, votes: { ...state.votes } }],
  };
}

function onDecisionStored(state: CoreState, decision: Decision, reason: string): StepResult {
  if (state.decision !== undefined) {
    assert.equal(
      decision,
      state.decision,
      "the write-once register returned two different decisions",
    );
    return none(state);
  }
  if (state.onePhase) {
    // The participant decided; the register may only repeat it (recovery settles a one-phase
    // transaction by asking the participant, never by presuming).
    assert.equal(
      decision,
      state.requested,
      "a one-phase decision differs from the participant's outcome",
    );
  }
  if (decision === "commit" && !state.onePhase) {
    // The invariant the whole system rests on: nobody stores COMMIT unless every vote was YES.
    assert(
      state.participants.every((p) => state.votes[p] === "yes" || state.votes[p] === "read-only"),
      "a COMMIT decision is stored but not every participant voted YES",
    );
  }
  const targets = state.onePhase ? [] : phase2Targets(state, decision);
  const next: CoreState = {
    ...state,
    phase: decision === "commit" ? "committing" : "aborting",
    decision,
    reason,
    phase2Targets: targets,
  };
  const sends: Effect[] = targets.map((participant) => ({
    type: "send-decision",
    participant,
    decision,
  }));
  if (targets.length === 0) {
    // Nobody to tell: end now. The client may already have heard "unknown" (decision-unknown),
    // and is never answered twice.
    const effects: Effect[] = [{ type: "write-end", acked: [] }];
    if (!state.replied) effects.push(replyEffect(next));
    return { state: { ...next, replied: true }, effects };
  }
  return { state: next, effects: sends };
}

/**
 * COMMIT goes to YES voters; ABORT to everyone who might hold a prepared transaction: each
 * participant sent a PREPARE, unless it voted NO or read-only.
 */
function phase2Targets(state: CoreState, decision: Decision): string[] {
  if (decision === "commit") return state.participants.filter((p) => state.votes[p] === "yes");
  return state.participants.filter(
    (p) => state.asked.includes(p) && state.votes[p] !== "no" && state.votes[p] !== "read-only",
  );
}

function onDecisionUnknown(state: CoreState, error: string): StepResult {
  if (state.decision !== undefined || state.replied) return none(state);
  const next: CoreState = { ...state, replied: true };
  return {
    state: next,
    effects: [
      {
        type: "reply",
        outcome: "unknown",
        reason: `the decision could not be recorded (${error}); recovery will finish the transaction`,
      },
    ],
  };
}

function onAck(state: CoreState, participant: string): StepResult {
  assert(state.decision !== undefined, "an acknowledgement before any decision was sent");
  if (!state.phase2Targets.includes(participant) || state.acks[participant]) return none(state);
  const acks = { ...state.acks, [participant]: true as const };
  const next: CoreState = { ...state, acks };
  if (!state.phase2Targets.every((p) => acks[p])) return none(next);
  const effects: Effect[] = [{ type: "write-end", acked: [...state.phase2Targets] }];
  if (!state.replied) effects.push(replyEffect(next));
  return { state: { ...next, replied: true }, effects };
}

function onReplyWaitExpired(state: CoreState): StepResult {
  if (state.replied || state.decision === undefined) return none(state);
  return { state: { ...state, replied: true }, effects: [replyEffect(state)] };
}

function onOnePhaseResult(
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
  const next: CoreState = { ...state, phase: "deciding", requested: decision, abortCause };
  return {
    state: next,
    effects: [
      {
        type: "write-decision",
        decision,
        reason:
          reason ?? (outcome === "committed" ? "committed in one phase" : "aborted in one phase"),
        votes: {},
      },
    ],
  };
}

function onOnePhaseFailed(state: CoreState): StepResult {
  assert(state.onePhase, "a one-phase failure in a two-phase transaction");
  const [only] = state.participants;
  if (state.phase !== "preparing" || only === undefined) return none(state);
  // We cannot presume abort: the participant may have committed before its answer was lost.
  // ABORT either makes sure it never commits (a tombstone) or is refused because it did.
  return { state, effects: [{ type: "settle-one-phase", participant: only }] };
}

function onEnded(state: CoreState): StepResult {
  assert(state.decision !== undefined, "end without a decision");
  return none({ ...state, phase: state.decision === "commit" ? "committed" : "aborted" });
}

function replyEffect(state: CoreState): Effect {
  assert(state.decision !== undefined);
  return {
    type: "reply",
    outcome: state.decision === "commit" ? "committed" : "aborted",
    reason: state.reason,
  };
}

/** Each participant's state as a client sees it. */
export function participantStates(
  state: CoreState,
): { name: string; vote: Vote | "none"; state: string }[] {
  return state.participants.map((name) => {
    const vote = state.votes[name] ?? "none";
    let s: string;
    if (state.onePhase)
      s =
        state.decision === "commit"
          ? "committed"
          : state.decision === "abort"
            ? "aborted"
            : "pending";
    else if (vote === "read-only") s = "read-only";
    else if (vote === "no") s = "aborted";
    else if (state.decision === undefined) s = vote === "yes" ? "prepared" : "pending";
    else if (state.acks[name]) s = state.decision === "commit" ? "committed" : "aborted";
    else s = state.decision === "commit" ? "committing" : "aborting";
    return {
      name,
      vote: state.onePhase
        ? state.decision === "commit"
          ? "yes"
          : state.decision === "abort"
            ? "no"
            : "none"
        : vote,
      state: s,
    };
  });
}
