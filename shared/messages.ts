import { z } from "zod";
import { PARTICIPANT_NAME_PATTERN, TXID_PATTERN } from "./ids.js";
import { isolationSchema } from "./isolation.js";

/**
 * Wire messages, defined once: each schema is the validator and the source of its TypeScript
 * type. Objects are strict (unknown fields are an error) and every list has an upper bound.
 */
export const LIMITS = {
  maxParticipantsPerTransaction: 16,
  maxOperationsPerParticipant: 64,
  maxBodyBytes: 64 * 1024,
  minTimeoutMs: 100,
  /** 2PC messages for one participant carried in one HTTP request. */
  maxBatchMessages: 64,
  /** Attempts of one request (the coordinator's retries of transient aborts). */
  maxAttempts: 100,
} as const;

export const txidSchema = z
  .string()
  .regex(TXID_PATTERN, "must be a lowercase UUID such as 0190a6d2-6b1e-7c3a-9f00-2c5e1a7b8d90");
export const participantNameSchema = z
  .string()
  .regex(PARTICIPANT_NAME_PATTERN, "must match ^[a-z][a-z0-9-]{0,31}$");

/** Operations are the application's business; the coordinator only checks their envelope. */
export const operationEnvelopeSchema = z.record(z.string(), z.unknown());
export const operationsSchema = z
  .array(operationEnvelopeSchema)
  .min(1)
  .max(LIMITS.maxOperationsPerParticipant);

/**
 * An integer in a query string, written plainly: digits only, no sign, exponent, hex, spaces
 * or fraction (`z.coerce.number` would take "0x10", "1e2" and " 5 ").
 */
export function queryInt(min: number, max: number, dflt: number) {
  return z
    .string()
    .regex(/^(0|[1-9][0-9]{0,8})$/, "must be a whole number written with digits only")
    .transform(Number)
    .pipe(z.number().int().min(min).max(max))
    .default(String(dflt));
}

export const voteSchema = z.enum(["yes", "no", "read-only"]);
export type Vote = z.infer<typeof voteSchema>;
export const decisionSchema = z.enum(["commit", "abort"]);
export type Decision = z.infer<typeof decisionSchema>;

// ---- client -> coordinator -------------------------------------------------------------

export const transactionRequestSchema = z
  .object({
    participants: z
      .array(
        z
          .object({
            name: participantNameSchema,
            operations: operationsSchema,
            /** This participant's level, over the transaction's `isolation`. */
            isolation: isolationSchema.optional(),
          })
          .strict(),
      )
      .min(1)
      .max(LIMITS.maxParticipantsPerTransaction),
    /**
     * The level every participant runs its part at, unless its entry names one; without either,
     * each participant's own default (docs/isolation.md says what each level guarantees).
     */
    isolation: isolationSchema.optional(),
    timeoutMs: z.number().int().min(LIMITS.minTimeoutMs).optional(),
    /**
     * How many attempts the coordinator may make when an attempt aborts for a transient reason
     * (a lock conflict, a deadlock, a serialization failure): 0 or 1 turns retrying off.
     */
    retry: z
      .object({ maxAttempts: z.number().int().min(0).max(LIMITS.maxAttempts) })
      .strict()
      .optional(),
  })
  .strict();
export type TransactionRequest = z.infer<typeof transactionRequestSchema>;

export const idempotencyKeySchema = z
  .string()
  .regex(/^[A-Za-z0-9._:-]{1,128}$/, "must be 1-128 characters of A-Z a-z 0-9 . _ : -");

// ---- coordinator -> participant ---------------------------------------------------------

export const prepareRequestSchema = z
  .object({
    operations: operationsSchema,
    /** Time left until the coordinator's deadline; the participant bounds its locks by it. */
    timeoutMs: z.number().int().min(1).max(600_000).optional(),
    /** Every participant of the transaction: the peers to ask if the coordinator is unreachable. */
    participants: z
      .array(participantNameSchema)
      .max(LIMITS.maxParticipantsPerTransaction)
      .optional(),
    /** The coordinator prepares this transaction one participant after the other, in name order. */
    ordered: z.boolean().optional(),
    /** The local transaction's isolation level; the participant's default when absent. */
    isolation: isolationSchema.optional(),
  })
  .strict();
export type PrepareRequest = z.infer<typeof prepareRequestSchema>;

/** A participant's reason for a NO vote or an abort: a short code such as `insufficient-funds`. */
const reasonSchema = z.string().max(200);

export const prepareResponseSchema = z.object({
  vote: voteSchema,
  reason: reasonSchema.optional(),
  detail: z.record(z.string(), z.unknown()).optional(),
  results: z.array(z.unknown()).optional(),
  /** The level the local transaction ran at (a participant that names none ran its database's). */
  isolation: isolationSchema.optional(),
});
export type PrepareResponse = z.infer<typeof prepareResponseSchema>;

export const onePhaseResponseSchema = z.object({
  outcome: z.enum(["committed", "aborted"]),
  reason: reasonSchema.optional(),
  detail: z.record(z.string(), z.unknown()).optional(),
  results: z.array(z.unknown()).optional(),
  isolation: isolationSchema.optional(),
});
export type OnePhaseResponse = z.infer<typeof onePhaseResponseSchema>;

export const decisionAckSchema = z.object({
  txid: txidSchema,
  state: z.enum(["committed", "aborted"]),
});
export type DecisionAck = z.infer<typeof decisionAckSchema>;

/** Empty body of COMMIT and ABORT: anything else is refused rather than silently ignored. */
export const emptyBodySchema = z.object({}).strict();

/**
 * Several 2PC messages for one participant in one HTTP request: under load the coordinator
 * coalesces what it sends to a participant in the same event-loop turn. Each message is handled
 * exactly as if it had come alone (same validation, same per-txid ordering, same answer).
 */
export const twoPhaseActionSchema = z.enum(["prepare", "one-phase", "commit", "abort"]);
export type TwoPhaseAction = z.infer<typeof twoPhaseActionSchema>;
export const batchRequestSchema = z
  .object({
    messages: z
      // The body is left as sent (z.unknown keeps the very object): each message's own route
      // schema validates it, so a batch accepts exactly what the single routes accept.
      .array(
        z.object({ txid: txidSchema, action: twoPhaseActionSchema, body: z.unknown() }).strict(),
      )
      .min(1)
      .max(LIMITS.maxBatchMessages),
  })
  .strict();
export type BatchRequest = z.infer<typeof batchRequestSchema>;
/** One line of a batch's answer (application/x-ndjson): the reply to message `index`. */
export const batchReplyLineSchema = z.object({
  index: z.number().int().min(0),
  status: z.number().int(),
  body: z.unknown(),
});

/** A peer's answer during cooperative termination. */
export const peerInquiryResponseSchema = z.object({
  txid: txidSchema,
  decision: z.enum(["commit", "abort", "unknown"]),
});
export type PeerInquiryResponse = z.infer<typeof peerInquiryResponseSchema>;

// ---- participant -> coordinator ---------------------------------------------------------

export const decisionInquiryResponseSchema = z.object({
  txid: txidSchema,
  decision: z.enum(["commit", "abort", "pending"]),
});
export type DecisionInquiryResponse = z.infer<typeof decisionInquiryResponseSchema>;
