/**
 * The coordinator API's query and answer schemas, for its route specs (routes.ts): the query is
 * what the handler parses with; the answers are what the OpenAPI document promises and what the
 * README test holds the real answers to.
 */
import { z } from "zod";
import {
  decisionSchema,
  participantNameSchema,
  txidSchema,
  voteSchema,
} from "../shared/messages.js";
import { txStateSchema } from "../shared/durable-log.js";
import { isolationSchema } from "../shared/isolation.js";
import { wireErrorSchema } from "../shared/wire-errors.js";

/** The list's filters and paging (history-query.ts, which reads them across Redis and the archive). */
export { listQuerySchema } from "./history-query.js";

const isoTime = z.string().datetime();
export const healthAnswerSchema = z.object({
  status: z.literal("ok"),
  role: z.literal("coordinator"),
});
export const unhealthyAnswerSchema = wireErrorSchema.extend({
  status: z.literal("unavailable"),
  role: z.literal("coordinator"),
});

const outcomeSchema = z.enum(["committed", "aborted", "unknown"]);

/** POST /v1/transactions: the last attempt's outcome and parts, and every attempt. */
export const transactionResultSchema = z.object({
  txid: txidSchema,
  outcome: outcomeSchema,
  reason: z.string().optional(),
  participants: z.array(
    z.object({
      name: participantNameSchema,
      vote: z.union([voteSchema, z.literal("none")]),
      state: z.string(),
      reason: z.string().optional(),
      detail: z.record(z.string(), z.unknown()).optional(),
      results: z.array(z.unknown()).optional(),
      /** The level this participant's part ran at. */
      isolation: isolationSchema.optional(),
    }),
  ),
  attempts: z.array(
    z.object({ txid: txidSchema, outcome: outcomeSchema, reason: z.string().optional() }),
  ),
});

/**
 * A refusal of POST /v1/transactions: the error, and when the transaction ran (a participant
 * found the client's fault, or the outcome is unknown), its result as well.
 */
export const transactionRefusalSchema = wireErrorSchema.merge(transactionResultSchema.partial());

const transactionSummarySchema = z.object({
  txid: txidSchema,
  state: txStateSchema,
  decision: decisionSchema.nullable(),
  reason: z.string().nullable(),
  participants: z.array(participantNameSchema),
  createdAt: isoTime.optional(),
});

export const transactionListSchema = z.object({
  transactions: z.array(transactionSummarySchema),
  /** The next page: pass it as `cursor`; null when this page is the last. */
  nextCursor: z.string().nullable(),
});

export const transactionDetailSchema = transactionSummarySchema.extend({
  timeoutMs: z.number().int().optional(),
  deadlineAt: isoTime.optional(),
  decidedBy: z.string().optional(),
  decidedAt: isoTime.optional(),
  endedAt: isoTime.optional(),
  presumedAbort: z.boolean(),
  attempt: z.number().int(),
  series: txidSchema,
  previousAttempt: txidSchema.nullable(),
  nextAttempt: txidSchema.nullable(),
  participants: z.array(
    z.object({
      name: participantNameSchema,
      vote: voteSchema.nullable(),
      acknowledgedAt: isoTime.nullable(),
    }),
  ),
  events: z.array(z.object({ type: z.string(), at: isoTime.optional(), data: z.unknown() })),
});
