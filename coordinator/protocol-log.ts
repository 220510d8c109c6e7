/**
 * The core's view of a transaction read back from the log, and the events that start from it:
 * recovery taking a transaction up, a participant's inquiry, and a client's repeated request.
 * Pure functions; see protocol.ts.
 */
import { strict as assert } from "node:assert";
import type { Decision, Vote } from "../shared/messages.js";
import { requestDecision, settle } from "./protocol-prepare.js";
import { phase2Targets, replyEffect, startPhase2 } from "./protocol-phase2.js";
import {
  none,
  type Answer,
  type CoreState,
  type Driver,
  type StepResult,
} from "./protocol-types.js";

/** What the log holds of a transaction (durable-log.ts TxRecord has these fields). */
export interface LoggedTransaction {
  txid: string;
  participants: readonly string[];
  onePhase: boolean;
  votes: Readonly<Record<string, Vote>>;
  decision: Decision | undefined;
  reason: string | undefined;
  /** Acknowledgement time by participant. */
  acks: Readonly<Record<string, unknown>>;
  /** "committed" or "aborted" once the end record is written. */
  state: string;
  /** An abort the register presumed for an unknown txid: nothing else is known of it. */
  presumed: boolean;
}

/**
 * The state of a transaction read from the log, for `driver`. Votes the log does not hold are
 * unknown, so every participant counts as asked: an ABORT goes to each one that might be prepared.
 */
export function fromLog(
  logged: LoggedTransaction,
  driver: Exclude<Driver, "engine">,
  options: { phase2Budget?: number } = {},
): CoreState {
  const { decision } = logged;
  const ended = logged.state === "committed" || logged.state === "aborted";
  const acks = Object.fromEntries(Object.keys(logged.acks).map((p) => [p, true] as const));
  const base: CoreState = {
    txid: logged.txid,
    driver,
    known: !logged.presumed,
    participants: logged.participants,
    onePhase: logged.onePhase,
    ordered: false,
    asked: logged.participants,
    phase: "preparing",
    votes: logged.votes,
    voteReasons: {},
    requested: decision,
    decision,
    reason: logged.reason,
    phase2Targets: [],
    acks,
    loggedAcks: acks,
    phase2Failures: {},
    phase2Budget: options.phase2Budget ?? 1,
    refused: [],
    handedOff: false,
    // Nobody waits on this copy until an inquiry or a replay asks.
    replied: driver === "recovery",
    abortCause: undefined,
  };
  if (decision === undefined) return base;
  const phase = ended
    ? decision === "commit"
      ? "committed"
      : "aborted"
    : decision === "commit"
      ? "committing"
      : "aborting";
  const targets = logged.onePhase ? [] : phase2Targets(base, decision);
  return { ...base, phase, phase2Targets: targets };
}

/** A transaction the log has no record of, as an inquiry or a replay meets it. */
export function unknownTransaction(txid: string, driver: "inquiry" | "replay"): CoreState {
  return { ...fromLog(emptyRecord(txid), driver), known: false };
}

function emptyRecord(txid: string): LoggedTransaction {
  const empty = { votes: {}, acks: {}, decision: undefined, reason: undefined };
  return { txid, participants: [], onePhase: false, state: "", presumed: false, ...empty };
}

/**
 * Recovery takes up a transaction nobody is driving: phase 2 of a decided one is resent; an
 * undecided one past its deadline is aborted through the register, or, if it is one-phase,
 * settled by asking its participant (only that participant knows its outcome).
 */
export function onRecovered(state: CoreState, deadlinePassed: boolean): StepResult {
  assert.equal(state.driver, "recovery", "only recovery takes up a transaction from the log");
  if (state.phase === "committed" || state.phase === "aborted") return none(state);
  if (state.decision !== undefined) return startPhase2(state);
  // Before its deadline an engine (ours or another coordinator's) may still be running it.
  if (!deadlinePassed) return none(state);
  if (state.onePhase) return settle(state);
  return requestDecision(state, "abort", "deadline passed; aborted by recovery");
}

/**
 * A participant in doubt asks. Only a participant of the transaction may learn or force its
 * outcome; an unknown txid is presumed aborted, and that answer is written to the register
 * first, so it can never later become a COMMIT.
 */
export function onInquiry(
  state: CoreState,
  asker: string,
  drivenHere: boolean,
  deadlinePassed: boolean,
): StepResult {
  assert.equal(state.driver, "inquiry");
  if (state.known && !state.participants.includes(asker)) {
    return answer(state, { kind: "not-a-participant", asker });
  }
  if (state.decision !== undefined)
    return answer(state, { kind: "decision", decision: state.decision });
  // A one-phase transaction is settled by recovery, which asks its participant.
  if (state.known && (drivenHere || !deadlinePassed || state.onePhase)) {
    return answer(state, { kind: "pending" });
  }
  const because = state.known
    ? "deadline passed; a participant asked"
    : "presumed abort: unknown transaction";
  return requestDecision(state, "abort", because);
}

/**
 * A client repeats a request: it gets the first request's answer once there is one. When that
 * request will not finish the transaction, the replay aborts it through the register, unless it
 * is one-phase: only its participant (asked by recovery) can settle that.
 */
export function onReplay(state: CoreState, gone: boolean): StepResult {
  assert.equal(state.driver, "replay");
  if (state.decision !== undefined) {
    return { state: { ...state, replied: true }, effects: [replyEffect(state)] };
  }
  if (!gone) return none(state);
  if (state.onePhase) return replyUnsettled(state);
  return requestDecision(
    state,
    "abort",
    "the first request with this Idempotency-Key did not finish",
  );
}

/** The register would not let an inquiry or a replay abort a one-phase transaction. */
export function onDecisionNotWritten(state: CoreState): StepResult {
  if (state.driver === "inquiry") return answer(state, { kind: "pending" });
  assert.equal(state.driver, "replay", "only inquiries and replays are refused by the register");
  return replyUnsettled(state);
}

function replyUnsettled(state: CoreState): StepResult {
  const reason = "the first request has not finished; recovery will settle it";
  const reply = { type: "reply", outcome: "unknown", reason } as const;
  return { state: { ...state, replied: true }, effects: [reply] };
}

function answer(state: CoreState, a: Answer): StepResult {
  return { state: { ...state, replied: true }, effects: [{ type: "answer", answer: a }] };
}
