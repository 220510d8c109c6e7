/**
 * What a client is told about one transaction: its outcome and each participant's part, built
 * from the core's state (the engine's live copy, or the log's for a repeated request).
 */
import type { IsolationLevel } from "../shared/isolation.js";
import type { Vote } from "../shared/messages.js";
import { participantStates, type CoreState } from "./protocol.js";

export interface ParticipantReport {
  name: string;
  vote: Vote | "none";
  state: string;
  reason?: string;
  detail?: Record<string, unknown>;
  results?: unknown[];
  /** The level its local transaction ran at, as it said. */
  isolation?: IsolationLevel;
}

/** A participant's refusal that is the client's fault (bad operation, unknown account). */
export interface ClientFault {
  status: number;
  code: string;
  message: string;
  participant: string;
}

export interface TransactionResult {
  txid: string;
  outcome: "committed" | "aborted" | "unknown";
  reason?: string;
  participants: ParticipantReport[];
  clientFault?: ClientFault;
  /**
   * The refusal that aborted it (a NO vote and its reason), when a refusal did; `key` is the
   * row a conflict was over.
   */
  abortCause?: { participant: string; reason: string; key?: string };
}

/** What a participant said besides its vote, kept for the client's answer. */
export interface ParticipantDetails {
  reason?: string;
  detail?: Record<string, unknown>;
  results?: unknown[];
  isolation?: IsolationLevel;
}

export function resultFromState(
  state: CoreState,
  outcome: TransactionResult["outcome"],
  reason: string | undefined,
  details: ReadonlyMap<string, ParticipantDetails> = new Map(),
): TransactionResult {
  // Results describe writes that only exist if the transaction committed.
  const participants: ParticipantReport[] = participantStates(state).map((p) => {
    const { results, ...rest } = details.get(p.name) ?? {};
    return { ...p, ...rest, ...(outcome === "committed" && results ? { results } : {}) };
  });
  return { txid: state.txid, outcome, participants, ...(reason ? { reason } : {}) };
}
