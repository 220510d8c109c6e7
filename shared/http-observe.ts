/**
 * What every service records of each HTTP request: one access-log line (method, route pattern,
 * status, duration, request id, and the txid and Idempotency-Key when there are) and the HTTP
 * metrics. The request id is the client's `x-request-id` when it is sane (log-context.ts),
 * otherwise a new one; it is echoed in the answer's `x-request-id`.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { NextFunction, Request, RequestHandler, Response } from "express";
import { pinoHttp } from "pino-http";
import {
  IDEMPOTENCY_KEY_HEADER,
  REQUEST_ID_HEADER,
  requestIdFor,
  bindLogContext,
  type LogContext,
  saneHeaderValue,
} from "./log-context.js";
import type { Logger } from "./logger.js";
import type { ServiceMetrics } from "./metrics.js";

export interface HttpObservers {
  logger: Logger;
  metrics: ServiceMetrics;
}

/** The route pattern that matched (`/v1/2pc/:txid/prepare`), never the raw path. */
export function routeOf(req: IncomingMessage): string {
  const route = (req as Partial<Request>).route as { path?: unknown } | undefined;
  return typeof route?.path === "string" ? route.path : "unmatched";
}

/**
 * The Idempotency-Key this request carries: the client's (at the coordinator), or the one the
 * coordinator forwards (at a participant). The client's comes first: a client cannot make the
 * coordinator's lines name another key than the one its request is run under.
 */
function idempotencyKeyOf(req: IncomingMessage): string | undefined {
  return (
    saneHeaderValue(req.headers["idempotency-key"]) ??
    saneHeaderValue(req.headers[IDEMPOTENCY_KEY_HEADER])
  );
}

/** The txid the request is about: the route's `:txid`, or the one a handler set (a new run). */
function txidOf(req: IncomingMessage, res: ServerResponse): string | undefined {
  const fromRoute = (req as Partial<Request>).params?.txid;
  if (typeof fromRoute === "string" && saneHeaderValue(fromRoute)) return fromRoute;
  const locals = (res as Partial<Response>).locals as { txid?: unknown } | undefined;
  return typeof locals?.txid === "string" ? locals.txid : undefined;
}

function accessLine(req: IncomingMessage, res: ServerResponse, durationMs: number) {
  const txid = txidOf(req, res);
  const idempotencyKey = idempotencyKeyOf(req);
  return {
    requestId: (req as { id?: unknown }).id,
    method: req.method,
    route: routeOf(req),
    status: res.statusCode,
    durationMs,
    ...(txid ? { txid } : {}),
    ...(idempotencyKey ? { idempotencyKey } : {}),
  };
}

/** One line per request at `info` (5xx at `warn`), with no header or body in it. */
function accessLog(logger: Logger): RequestHandler {
  return pinoHttp({
    logger,
    // The line is ours alone (accessLine): no request or response object, so no header in it.
    quietResLogger: true,
    serializers: { req: (req: { method?: unknown }) => ({ method: req.method }) },
    genReqId: (req, res) => {
      const id = requestIdFor(req.headers[REQUEST_ID_HEADER]);
      res.setHeader(REQUEST_ID_HEADER, id);
      return id;
    },
    customLogLevel: (_req, res, err) => (err || res.statusCode >= 500 ? "warn" : "info"),
    customSuccessMessage: () => "request",
    customErrorMessage: () => "request failed",
    customSuccessObject: (req, res, val: { responseTime?: number }) =>
      accessLine(req, res, val.responseTime ?? 0),
    customErrorObject: (req, res, _err, val: { responseTime?: number }) =>
      accessLine(req, res, val.responseTime ?? 0),
  });
}

/** Requests by method, route pattern and status, and their durations. */
function countRequests(metrics: ServiceMetrics): RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    const stop = metrics.httpDuration.startTimer();
    let counted = false;
    const done = () => {
      if (counted) return;
      counted = true;
      const route = routeOf(req);
      metrics.httpRequests.inc({ method: req.method, route, status: String(res.statusCode) });
      stop({ method: req.method, route });
    };
    res.once("finish", done);
    res.once("close", done);
    next();
  };
}

/** First on every app: the access line and the metrics see every request, refused ones too. */
export function observeRequests(observers: HttpObservers): RequestHandler[] {
  return [accessLog(observers.logger), countRequests(observers.metrics)];
}

/** The request id and Idempotency-Key of the request `res` answers (requestContext). */
export function logContextOfResponse(res: Response): LogContext | undefined {
  return (res.locals as { logContext?: LogContext }).logContext;
}

/** The txids a participant's 2PC request is about: its path's, or each message's of a batch. */
function twoPhaseTxids(req: Request): string[] {
  const single = /^\/v1\/2pc\/([^/]+)\/(prepare|one-phase|commit|abort|inquiry)$/.exec(req.path);
  if (single?.[1] !== undefined) return [single[1]];
  if (req.path !== "/v1/2pc/batch") return [];
  const messages = (req.body as { messages?: unknown } | undefined)?.messages;
  if (!Array.isArray(messages)) return [];
  return messages
    .slice(0, 64)
    .map((m) => (m as { txid?: unknown } | null)?.txid)
    .filter((t): t is string => saneHeaderValue(t) !== undefined);
}

/**
 * After the body is read: the request's log context (its id and Idempotency-Key) is kept for the
 * handler, and bound to the txids a participant's 2PC message names, so every line written about
 * them carries it (log-context.ts). The coordinator binds each attempt's txid as it begins
 * (series.ts).
 */
export function requestContext(): RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    const requestId = (req as { id?: unknown }).id;
    const idempotencyKey = idempotencyKeyOf(req);
    const context: LogContext = {
      requestId: typeof requestId === "string" ? requestId : requestIdFor(undefined),
      ...(idempotencyKey ? { idempotencyKey } : {}),
    };
    (res.locals as { logContext?: LogContext }).logContext = context;
    for (const txid of twoPhaseTxids(req)) bindLogContext(txid, context);
    next();
  };
}
