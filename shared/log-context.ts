/**
 * What every log line about a transaction carries: the request id and the client's
 * Idempotency-Key of the request it serves. Kept by txid: the code that logs about a transaction
 * names its txid on the line, and the logger's mixin (logger.ts) adds the context bound to that
 * txid, so the engine, the driver and the participant-client of the coordinator, and the
 * participant's shell, need no logger threaded through their calls. A request may run several
 * txids (the coordinator's retries): each attempt's txid is bound as it begins.
 *
 * Not an AsyncLocalStorage: in Node 20 one turns on promise hooks for the whole process, and the
 * benchmark measured it at about a fifth of the coordinator's throughput at concurrency 32.
 */
import { randomUUID } from "node:crypto";

export interface LogContext {
  requestId: string;
  idempotencyKey?: string;
}

/** The request id a client may send and every service echoes (and forwards to participants). */
export const REQUEST_ID_HEADER = "x-request-id";
/** The coordinator forwards the client's Idempotency-Key to participants under this header. */
export const IDEMPOTENCY_KEY_HEADER = "concord-idempotency-key";

/**
 * How many txids keep their context: the most recently bound ones (a Map keeps insertion order,
 * so the oldest binding is the first key). No timer per binding: at a few thousand bindings a
 * second this still covers minutes, past any deadline and phase 2.
 */
const MAX_BOUND = 100_000;

const byTxid = new Map<string, LogContext>();

/** The lines about `txid` carry `context` from now on (until MAX_BOUND newer bindings). */
export function bindLogContext(txid: string, context: LogContext | undefined): void {
  if (!context) return;
  byTxid.delete(txid);
  byTxid.set(txid, context);
  if (byTxid.size > MAX_BOUND) {
    const oldest = byTxid.keys().next();
    if (oldest.done !== true) byTxid.delete(oldest.value);
  }
}

/** The context bound to `txid`, if any. */
export function logContextOf(txid: unknown): LogContext | undefined {
  return typeof txid === "string" ? byTxid.get(txid) : undefined;
}

/** What the logger's mixin adds to a line: the context of the txid the line names. */
export function logContextFields(line: object): LogContext | Record<string, never> {
  return logContextOf((line as { txid?: unknown }).txid) ?? {};
}

/**
 * A header value fit for a log line: bounded and of safe characters (the Idempotency-Key's
 * alphabet), so nobody can forge lines or fill the log through it. Anything else is dropped.
 */
export function saneHeaderValue(value: unknown): string | undefined {
  return typeof value === "string" && /^[A-Za-z0-9._:-]{1,128}$/.test(value) ? value : undefined;
}

/** The client's request id when it is sane, otherwise a new one. */
export function requestIdFor(header: unknown): string {
  return saneHeaderValue(header) ?? randomUUID();
}

/** The headers that carry the current context to a participant (unsigned: they only feed logs). */
export function contextHeaders(context: LogContext | undefined): Record<string, string> {
  if (!context) return {};
  return {
    [REQUEST_ID_HEADER]: context.requestId,
    ...(context.idempotencyKey ? { [IDEMPOTENCY_KEY_HEADER]: context.idempotencyKey } : {}),
  };
}
