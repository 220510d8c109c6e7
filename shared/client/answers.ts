/**
 * The coordinator's answers as the client library reads them: zod schemas that check each body
 * it receives, and the types inferred from them. Objects are not strict: a field a newer
 * coordinator adds is dropped, not an error. README "API" describes the fields.
 */
import { z } from "zod";

const txOutcomeSchema = z.enum(["committed", "aborted", "unknown"]);
export type TransactionOutcome = z.infer<typeof txOutcomeSchema>;

/** One participant's part in the answer to a transaction. */
export const participantPartSchema = z.object({
  name: z.string(),
  vote: z.enum(["yes", "no", "read-only", "none"]),
  state: z.string(),
  /** Why it voted NO or aborted (`insufficient-funds`, `out-of-stock`, `conflict`, ...). */
  reason: z.string().optional(),
  detail: z.record(z.string(), z.unknown()).optional(),
  /** What its operations returned (a bank's reads: `{balance}`); only when committed. */
  results: z.array(z.unknown()).optional(),
  /** The isolation level its part ran at. */
  isolation: z.string().optional(),
});
export type ParticipantPart = z.infer<typeof participantPartSchema>;

/** One attempt of a request: the coordinator runs a transient abort (a conflict) again. */
export const attemptSchema = z.object({
  txid: z.string(),
  outcome: txOutcomeSchema,
  reason: z.string().optional(),
});
export type Attempt = z.infer<typeof attemptSchema>;

/** The `error` of a refusal: its code and message, and the data some carry. */
export const wireErrorBodySchema = z.object({
  code: z.string(),
  message: z.string(),
  field: z.string().optional(),
  participant: z.string().optional(),
  /** Which per-client limit a 429 is about (`in-flight`, `rate`, `held-time`). */
  limit: z.string().optional(),
});
export type WireErrorBody = z.infer<typeof wireErrorBodySchema>;

/** POST /v1/transactions: the answer to a run (200, or 503 outcome-unknown, or a client fault). */
export const runAnswerSchema = z.object({
  txid: z.string(),
  outcome: txOutcomeSchema,
  reason: z.string().optional(),
  participants: z.array(participantPartSchema),
  attempts: z.array(attemptSchema),
  error: wireErrorBodySchema.optional(),
});
export type RunAnswer = z.infer<typeof runAnswerSchema>;

const stateSchema = z.string();
const decisionSchema = z.enum(["commit", "abort"]).nullable();

/** One transaction in GET /v1/transactions. */
export const transactionSummarySchema = z.object({
  txid: z.string(),
  state: stateSchema,
  decision: decisionSchema,
  reason: z.string().nullable(),
  participants: z.array(z.string()),
  createdAt: z.string().optional(),
});
export type TransactionSummary = z.infer<typeof transactionSummarySchema>;

export const transactionListSchema = z.object({
  transactions: z.array(transactionSummarySchema),
});

/** GET /v1/transactions/:txid: the log's record of one transaction, with its events. */
export const transactionDetailSchema = transactionSummarySchema
  .omit({ participants: true })
  .extend({
    timeoutMs: z.number().optional(),
    deadlineAt: z.string().optional(),
    decidedBy: z.string().optional(),
    decidedAt: z.string().optional(),
    endedAt: z.string().optional(),
    presumedAbort: z.boolean().optional(),
    /** Its place among the attempts of one request (1 = the first). */
    attempt: z.number().optional(),
    /** The first attempt's txid. */
    series: z.string(),
    previousAttempt: z.string().nullable(),
    nextAttempt: z.string().nullable(),
    participants: z.array(
      z.object({
        name: z.string(),
        vote: z.enum(["yes", "no", "read-only"]).nullable(),
        acknowledgedAt: z.string().nullable(),
      }),
    ),
    events: z.array(
      z.object({ type: z.string(), at: z.string().optional(), data: z.unknown().optional() }),
    ),
  });
export type TransactionDetail = z.infer<typeof transactionDetailSchema>;

/** The states GET /v1/transactions filters on. */
export const LIST_STATES = [
  "preparing",
  "committing",
  "aborting",
  "committed",
  "aborted",
  "active",
  "finished",
] as const;
export type ListState = (typeof LIST_STATES)[number];
