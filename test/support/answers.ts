/**
 * The JSON bodies the services answer, as the tests read them: the type argument of an
 * `http.get<…>`/`http.post<…>` call. Types only: nothing here checks a body at run time, so a test
 * asserts exactly what it asserts. A field that a refusal ({ error }) lacks is optional, as in
 * scripts/transaction-answer.ts, which the coordinator's answer extends; where a test needs a
 * field to go on (a txid for a URL), `present` and `txidOf` fail it when the field is missing, as
 * reading through the missing field did.
 */
import type { AttemptSummary } from "../../coordinator/series.js";
import type { Failpoints } from "../../shared/failpoints.js";
import type {
  Decision,
  DecisionAck,
  DecisionInquiryResponse,
  PrepareResponse,
  Vote,
} from "../../shared/messages.js";
import type { TransactionAnswer } from "../../scripts/transaction-answer.js";

/** The `error` of a refusal, at any service: its code and message, and the data of some. */
export interface WireError {
  code?: string;
  message?: string;
  field?: string;
  participant?: string;
  /** Which per-client limit a 429 is about (`in-flight`, `rate`, `held-time`). */
  limit?: string;
}

/** An answer that may be a refusal. */
export interface Refusable {
  error?: WireError;
}

type ScriptAnswer = NonNullable<TransactionAnswer>;
type ScriptParticipant = NonNullable<ScriptAnswer["participants"]>[number];

/** One participant's part in the coordinator's answer to a transaction. */
export interface ParticipantPart extends ScriptParticipant {
  name: string;
  vote: Vote | "none";
  state: string;
  detail?: Record<string, unknown>;
}

/** The coordinator's answer to POST /v1/transactions: the scripts' TransactionAnswer, read further. */
export interface RunAnswer extends ScriptAnswer {
  outcome?: "committed" | "aborted" | "unknown";
  error?: WireError;
  participants?: ParticipantPart[];
  attempts?: AttemptSummary[];
}

/** One transaction in the coordinator's list (GET /v1/transactions). */
export interface TransactionSummary {
  txid: string;
  state: string;
  decision: Decision | null;
  reason: string | null;
  participants: string[];
  createdAt?: string;
}

/** GET /v1/transactions. */
export interface TransactionList extends Refusable {
  transactions?: TransactionSummary[];
}

/** GET /v1/transactions/<txid>: the log's record of one transaction, with its events. */
export interface TransactionDetail extends Refusable {
  txid?: string;
  state?: string;
  decision?: Decision | null;
  decidedBy?: string;
  presumedAbort?: boolean;
  attempt?: number;
  series?: string;
  previousAttempt?: string | null;
  nextAttempt?: string | null;
  participants?: { name: string; vote: Vote | null; acknowledgedAt: string | null }[];
  events?: { type: string; at?: string; data?: unknown }[];
}

/** GET /v1/transactions/<txid>/decision: what a participant in doubt is told. */
export interface DecisionAnswer extends Partial<DecisionInquiryResponse>, Refusable {}

/** A participant's answer to PREPARE. */
export interface PrepareAnswer extends Partial<PrepareResponse>, Refusable {}

/** A participant's answer to COMMIT or ABORT. */
export interface DecisionAckAnswer extends Partial<DecisionAck>, Refusable {}

/** GET /v1/2pc/<txid> at a participant: PostgreSQL's view of the txid and the journal's. */
export interface ParticipantStatus extends Refusable {
  txid?: string;
  prepared?: boolean;
  outcome?: string | null;
  journal?: { state: string; vote: Vote | null; decision: Decision | null } | null;
}

/** GET /v1/accounts/<id> at a bank. */
export interface AccountAnswer extends Refusable {
  id?: string;
  balance?: string;
  version?: number;
  customer?: string | null;
}

/** GET /v1/customers/:customer: a customer's accounts at one bank and their total. */
export interface CustomerAnswer extends Refusable {
  customer?: string;
  accounts?: { id: string; balance: string; version: number }[];
  total?: string;
}

/** GET /v1/admin/failpoints. */
export interface FailpointList extends Refusable {
  failpoints?: ReturnType<Failpoints["list"]>;
}

/** `value`, which the test needs to go on: a missing one fails the test here. */
export function present<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new Error(`${what} is missing`);
  return value;
}

/** The txid an answer names: an answer without one (or no answer) fails the test here. */
export function txidOf(res: { data: { txid?: string } } | undefined): string {
  const txid = res?.data.txid;
  if (txid === undefined)
    throw new Error(`the answer names no txid: ${res ? JSON.stringify(res.data) : "no answer"}`);
  return txid;
}
