/**
 * The filters and the cursor of `GET /v1/transactions`: what the query string may say, and the
 * order pages follow, newest first by (creation time on the Redis clock, txid). The cursor is
 * opaque to callers: the position of the last transaction of the page before.
 */
import { z } from "zod";
import type { TxRecord } from "../shared/durable-log.js";
import { participantNameSchema, queryInt, txidSchema } from "../shared/messages.js";
import { LIST_STATES, type ListState } from "../shared/client/answers.js";

// The states the list filters on: the same list the client library checks answers with.
export { LIST_STATES, type ListState };

/** A place in the listing order. */
export interface Position {
  atMs: number;
  txid: string;
}

export interface HistoryFilter {
  state?: ListState | undefined;
  participant?: string | undefined;
  /** Part of the reason, any case. */
  reason?: string | undefined;
  /** Created at or after this (Unix ms). */
  sinceMs?: number | undefined;
  /** Created before this (Unix ms). */
  untilMs?: number | undefined;
  /** Only this API key's transactions (a client's own). */
  client?: string | undefined;
}

const isoTime = z
  .string()
  .regex(
    /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2})$/,
    "must be an ISO 8601 time with a zone, such as 2026-01-31T12:00:00Z",
  )
  .transform((text) => Date.parse(text))
  .refine((ms) => !Number.isNaN(ms), "must be a real date and time");

const cursorSchema = z.string().transform((text, ctx) => {
  const position = decodeCursor(text);
  if (!position) {
    ctx.addIssue({
      code: z.ZodIssueCode.custom,
      message: "is not a cursor this API returned (pass nextCursor from the previous page as is)",
    });
    return z.NEVER;
  }
  return position;
});

export const listQuerySchema = z
  .object({
    state: z.enum(LIST_STATES).optional(),
    participant: participantNameSchema.optional(),
    reason: z.string().min(1).max(200).optional(),
    since: isoTime.optional(),
    until: isoTime.optional(),
    limit: queryInt(1, 500, 50),
    cursor: cursorSchema.optional(),
  })
  .strict();

export function encodeCursor(p: Position): string {
  return Buffer.from(`${p.atMs}.${p.txid}`).toString("base64url");
}

function decodeCursor(text: string): Position | undefined {
  if (text.length > 200) return undefined;
  const [at = "", txid = ""] = Buffer.from(text, "base64url").toString().split(".");
  if (!/^[0-9]{1,15}$/.test(at) || !txidSchema.safeParse(txid).success) return undefined;
  return { atMs: Number(at), txid };
}

export function positionOf(r: TxRecord): Position {
  return { atMs: r.createdAtMs ?? r.endedAtMs ?? 0, txid: r.txid };
}

/** Newest first: negative when `a` comes before `b`. */
export function newestFirst(a: Position, b: Position): number {
  if (a.atMs !== b.atMs) return b.atMs - a.atMs;
  return a.txid < b.txid ? 1 : a.txid > b.txid ? -1 : 0;
}

/** True when `p` comes after (is older than) `cursor` in the listing order. */
export function isAfter(p: Position, cursor: Position | undefined): boolean {
  return cursor === undefined || newestFirst(cursor, p) < 0;
}

export function isFinished(r: TxRecord): boolean {
  return r.state === "committed" || r.state === "aborted" || r.endedAtMs !== undefined;
}

export function matches(r: TxRecord, f: HistoryFilter): boolean {
  const state = f.state;
  if (state === "active" && isFinished(r)) return false;
  if (state === "finished" && !isFinished(r)) return false;
  if (state !== undefined && state !== "active" && state !== "finished" && r.state !== state)
    return false;
  if (f.client !== undefined && r.client !== f.client) return false;
  if (f.participant !== undefined && !r.participants.includes(f.participant)) return false;
  if (f.reason !== undefined && !(r.reason ?? "").toLowerCase().includes(f.reason.toLowerCase()))
    return false;
  const at = positionOf(r).atMs;
  if (f.sinceMs !== undefined && at < f.sinceMs) return false;
  if (f.untilMs !== undefined && at >= f.untilMs) return false;
  return true;
}
