/**
 * The answer of a participant's `GET /v1/prepared` (participant/framework/prepared-route.ts):
 * what PostgreSQL holds prepared under this participant's gids, with what its journal says of
 * each. The coordinator's operator API parses it with this schema (coordinator/operator-api.ts).
 */
import { z } from "zod";
import { decisionSchema, participantNameSchema, txidSchema, voteSchema } from "./messages.js";

/** How many prepared transactions one answer lists at most (the oldest first). */
export const PREPARED_LIST_LIMIT = 1000;

export const preparedEntrySchema = z.object({
  txid: txidSchema,
  /** PostgreSQL's global transaction id: `concord:<participant>:<txid>`. */
  gid: z.string(),
  /** When PREPARE TRANSACTION ran, on PostgreSQL's clock. */
  preparedAt: z.string(),
  /** How long it has been prepared, on PostgreSQL's clock. */
  ageMs: z.number().int().min(0),
  /** What this participant's journal holds: its vote and the decision it was told, if any. */
  journal: z.object({ vote: voteSchema.optional(), decision: decisionSchema.optional() }),
});
export type PreparedEntry = z.infer<typeof preparedEntrySchema>;

export const preparedAnswerSchema = z.object({
  participant: participantNameSchema,
  prepared: z.array(preparedEntrySchema),
  /** True when more were prepared than one answer lists (PREPARED_LIST_LIMIT). */
  truncated: z.boolean(),
});
export type PreparedAnswer = z.infer<typeof preparedAnswerSchema>;
