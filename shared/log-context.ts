/**
 * What every log line written while serving one request carries: its request id and the client's
 * Idempotency-Key. Held in an AsyncLocalStorage and added by the logger's mixin (logger.ts), so
 * the engine, the driver and the participant-client of the coordinator, and the participant's
 * shell, need no logger threaded through their calls: the context follows the request's promises,
 * phase 2 included. The txid is on each line already (the code logging about a transaction names
 * it); a request may run several (the coordinator's retries), so it is not part of the context.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { randomUUID } from "node:crypto";

export interface LogContext {
  requestId: string;
  idempotencyKey?: string;
}

/** The request id a client may send and every service echoes (and forwards to participants). */
export const REQUEST_ID_HEADER = "x-request-id";
/** The coordinator forwards the client's Idempotency-Key to participants under this header. */
export const IDEMPOTENCY_KEY_HEADER = "concord-idempotency-key";

const storage = new AsyncLocalStorage<LogContext>();

export function currentLogContext(): LogContext | undefined {
  return storage.getStore();
}

export function runWithLogContext<T>(context: LogContext, work: () => T): T {
  return storage.run(context, work);
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
