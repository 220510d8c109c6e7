/**
 * The vocabulary of the protocol core: its state, the events fed to it and the effects it asks
 * for. Everything the coordinator decides about a transaction is a function of these (see
 * protocol.ts); the engine, recovery and the API only turn effects into I/O and I/O into events.
 */
import type { Decision, Vote } from "../shared/messages.js";

export type Phase = "preparing" | "deciding" | "committing" | "aborting" | "committed" | "aborted";

/**
 * Who holds this copy of the transaction, which says what it may do:
 * - `engine`: runs it live for a waiting client (prepare round, phase 2, the answer);
 * - `recovery`: finishes it from the log (abort past the deadline, settle one phase, phase 2);
 * - `inquiry`: a participant asks for the decision;
 * - `replay`: a client repeats a request with the same Idempotency-Key.
 * The last two answer a question and never send anything to participants.
 */
export type Driver = "engine" | "recovery" | "inquiry" | "replay";

/** The name the log records as the decision's author (`decidedBy`). */
export type DecidedBy = "engine" | "recovery" | "inquiry";

export interface CoreState {
  readonly txid: string;
  readonly driver: Driver;
  /**
   * False when nothing is known of the transaction: the log has no record of it (an inquiry or
   * a replay of an unknown txid), or only the abort the register presumed for such a txid.
   */
  readonly known: boolean;
  readonly participants: readonly string[];
  /** One participant: no prepare round, the participant commits or aborts on its own. */
  readonly onePhase: boolean;
  /**
   * PREPAREs go one participant after the other, in name order, each after the previous vote
   * (a retry after a conflict: see pg-store.ts concord_lock_keys); otherwise all at once.
   */
  readonly ordered: boolean;
  /** Participants that were (or, for a transaction read back from the log, may have been) sent a PREPARE. */
  readonly asked: readonly string[];
  readonly phase: Phase;
  readonly votes: Readonly<Record<string, Vote>>;
  /** Why a participant voted no or could not be asked, for the client and the log. */
  readonly voteReasons: Readonly<Record<string, string>>;
  /** The decision asked of the write-once register (the stored one may differ). */
  readonly requested: Decision | undefined;
  /** The decision read back from the write-once register: the only one anyone acts on. */
  readonly decision: Decision | undefined;
  readonly reason: string | undefined;
  /** Participants that must hear the decision, and which of them acknowledged it. */
  readonly phase2Targets: readonly string[];
  readonly acks: Readonly<Record<string, true>>;
  /** Acknowledgements the log already holds (a transaction read back from it). */
  readonly loggedAcks: Readonly<Record<string, true>>;
  /** Sends of the decision per participant that got no acknowledgement. */
  readonly phase2Failures: Readonly<Record<string, number>>;
  /** Sends of the decision each participant gets from this driver before it hands off. */
  readonly phase2Budget: number;
  /** Participants that answered the decision with the opposite outcome: never sent again. */
  readonly refused: readonly string[];
  /** Phase 2 was left to recovery; this driver sends nothing more. */
  readonly handedOff: boolean;
  /** Whoever waits for this transaction (a client, an asker) has had its answer. */
  readonly replied: boolean;
  /**
   * The refusal that made this run abort: the first NO vote (or the single participant's refusal
   * in one phase), with its reason. Undefined when it aborted for anything else (a participant
   * that did not answer, the deadline): only a refusal says whether running again can help.
   */
  readonly abortCause: { participant: string; reason: string } | undefined;
}

/** What an inquiry or a replay is told. */
export type Answer =
  | { kind: "decision"; decision: Decision }
  | { kind: "pending" }
  | { kind: "not-a-participant"; asker: string };

export type Event =
  | { type: "start" }
  | { type: "vote"; participant: string; vote: Vote; reason?: string }
  /** No usable answer to PREPARE (refused, timed out, 5xx): counts as a NO. */
  | { type: "prepare-failed"; participant: string; reason: string }
  | { type: "deadline" }
  /**
   * The register's answer. `votes`: the votes stored with it, when it holds a decision someone
   * else wrote (a COMMIT comes with the YES votes of the engine that wrote it).
   */
  | { type: "decision-stored"; decision: Decision; reason: string; votes?: Record<string, Vote> }
  /** The decision write failed and we cannot know whether it was stored: recovery will tell. */
  | { type: "decision-unknown"; error: string }
  /** The register refused an inquiry's abort: only its participant decides a one-phase transaction. */
  | { type: "decision-not-written"; why: "one-phase" }
  | { type: "ack"; participant: string }
  /**
   * A send of the decision got no acknowledgement. `refused`: the participant answered that it
   * holds the opposite outcome, which no resend can change.
   */
  | { type: "decision-failed"; participant: string; refused: boolean; reason: string }
  /** How long a client waits for phase 2 has passed: answer with the decision now. */
  | { type: "reply-wait-expired" }
  /** `refusal`: the participant's own reason for aborting, when it refused. */
  | {
      type: "one-phase-result";
      outcome: "committed" | "aborted";
      reason?: string;
      refusal?: string;
    }
  /** The one-phase request was refused as malformed: the participant did nothing. */
  | { type: "one-phase-refused"; reason: string }
  /** The one-phase request got no answer: its outcome must be settled by asking again (ABORT). */
  | { type: "one-phase-failed"; reason: string }
  /** The answer to the ABORT that settles a one-phase transaction. */
  | { type: "settle-result"; outcome: "aborted" | "committed" | "unknown"; reason: string }
  | { type: "ended" }
  /** Recovery read the transaction from the log; `deadlinePassed` on the log's clock. */
  | { type: "recovered"; deadlinePassed: boolean }
  /** A participant asks for the decision. `drivenHere`: this process's engine is running it. */
  | { type: "inquiry"; asker: string; drivenHere: boolean; deadlinePassed: boolean }
  /**
   * A repeated request looks at the transaction of its first request. `gone`: that request
   * will not finish it (its wait is over, or it never began and nobody runs it).
   */
  | { type: "replay"; gone: boolean };

export type Effect =
  | { type: "send-prepare"; participant: string }
  | { type: "send-one-phase"; participant: string }
  /** Ask the single participant to abort unless it already committed; it answers which. */
  | { type: "settle-one-phase"; participant: string }
  | {
      type: "write-decision";
      decision: Decision;
      reason: string;
      votes: Record<string, Vote>;
      by: DecidedBy;
    }
  /** `attempt`: earlier sends of it to this participant that failed (0 for the first). */
  | { type: "send-decision"; participant: string; decision: Decision; attempt: number }
  /** Every phase-2 target acknowledged: the transaction ends. `acked`: those the log lacks. */
  | { type: "write-end"; acked: string[] }
  /** Record the acknowledgements the log lacks, and leave the rest of phase 2 to recovery. */
  | { type: "hand-off"; acked: string[] }
  /** Stop driving; the transaction stays in the log's `index` for recovery to take up. */
  | { type: "let-go"; index: "undecided" | "unacked" }
  | { type: "reply"; outcome: "committed" | "aborted" | "unknown"; reason: string | undefined }
  | { type: "answer"; answer: Answer };

export interface StepResult {
  state: CoreState;
  effects: Effect[];
}

export const none = (state: CoreState): StepResult => ({ state, effects: [] });

/** The name the log records for a decision this driver writes. */
export function decidedBy(driver: Driver): DecidedBy {
  return driver === "replay" ? "inquiry" : driver;
}
