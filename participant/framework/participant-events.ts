/**
 * What a participant tells an observer after each message it handled: the hook for metrics
 * and audit (`startParticipant({ onEvent })`). Called after the answer is decided and every
 * action done; an observer that throws is logged and otherwise ignored, so it can never change
 * what the protocol does.
 */
import type { IsolationLevel } from "../../shared/isolation.js";
import type { Decision } from "../../shared/messages.js";

export type ParticipantMessage = "prepare" | "one-phase" | "commit" | "abort" | "peer-inquiry";

export interface ParticipantEvent {
  participant: string;
  txid: string;
  message: ParticipantMessage;
  /** From the message's arrival (after validation) to its answer. */
  durationMs: number;
  /** The level the local transaction ran at (PREPARE and one-phase). */
  isolation?: IsolationLevel;
  /** What was answered, or why the message was refused (an HTTP error). */
  result:
    | { kind: "vote"; vote: "yes" | "no" | "read-only"; reason?: string }
    | { kind: "one-phase"; outcome: "committed" | "aborted"; reason?: string }
    | { kind: "ack"; state: "committed" | "aborted" }
    | { kind: "inquiry"; decision: Decision | "unknown" }
    | { kind: "refused"; refusal: string };
}

export type ParticipantObserver = (event: ParticipantEvent) => void;
