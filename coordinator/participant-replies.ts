/**
 * Participants' HTTP replies turned into protocol events. Every body is parsed with its schema
 * here; what a reply means for the transaction is then the core's to decide (protocol.ts).
 */
import { wireErrorOf } from "../shared/wire-errors.js";
import { TransportError, type HttpReply } from "../shared/http-client.js";
import { FailpointError } from "../shared/failpoints.js";
import {
  onePhaseResponseSchema,
  prepareResponseSchema,
  type OnePhaseResponse,
  type PrepareResponse,
} from "../shared/messages.js";
import type { Event } from "./protocol.js";

/** The longest refusal text of a participant passed on to the client and the log. */
const MAX_REASON_CHARS = 500;

function clip(text: string, max: number): string {
  return text.length <= max
    ? text
    : `${text.slice(0, max)}… (${text.length - max} more characters)`;
}

/** No HTTP answer at all: the message may or may not have arrived. */
export function isNoAnswer(err: unknown): err is TransportError | FailpointError {
  return err instanceof TransportError || err instanceof FailpointError;
}

/** A refusal's code and text as the participant gave them, clipped: it cannot make either long. */
export interface Refusal {
  status: number;
  code: string;
  message: string;
  /** A 4xx other than 409: the request itself was wrong, and the participant did nothing. */
  malformed: boolean;
}

export function refusalOf(reply: HttpReply): Refusal {
  const error = wireErrorOf(reply.data);
  return {
    status: reply.status,
    code: error ? clip(error.code, 64) : "invalid-operation",
    message: error ? clip(error.message, MAX_REASON_CHARS) : `HTTP ${reply.status}`,
    malformed: reply.status >= 400 && reply.status < 500 && reply.status !== 409,
  };
}

export function parsedVote(reply: HttpReply): PrepareResponse | undefined {
  const parsed = prepareResponseSchema.safeParse(reply.data);
  return reply.status === 200 && parsed.success ? parsed.data : undefined;
}

export function parsedOnePhase(reply: HttpReply): OnePhaseResponse | undefined {
  const parsed = onePhaseResponseSchema.safeParse(reply.data);
  return reply.status === 200 && parsed.success ? parsed.data : undefined;
}

/**
 * The answer to a COMMIT or ABORT. A 409 says the participant holds the opposite outcome (or
 * was never prepared for this one): sending it again cannot help.
 */
export function decisionReplyEvent(participant: string, reply: HttpReply): Event {
  if (reply.status === 200) return { type: "ack", participant };
  const refusal = refusalOf(reply);
  return {
    type: "decision-failed",
    participant,
    refused: reply.status === 409,
    reason: `${refusal.code}: ${refusal.message}`,
  };
}

/** The answer to the ABORT that settles a one-phase transaction. */
export function settleReplyEvent(reply: HttpReply): Event {
  if (reply.status === 200) return { type: "settle-result", outcome: "aborted", reason: "aborted" };
  const error = wireErrorOf(reply.data);
  if (reply.status === 409 && error?.known === "already-committed") {
    return { type: "settle-result", outcome: "committed", reason: "already committed" };
  }
  return { type: "settle-result", outcome: "unknown", reason: `HTTP ${reply.status}` };
}
