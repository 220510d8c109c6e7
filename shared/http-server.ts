import express, { type Express, type NextFunction, type Request, type Response } from "express";
import { createServer, type Server } from "node:http";
import type { z } from "zod";
import {
  ConcordError,
  NotFoundError,
  PayloadTooLargeError,
  TooManyRequestsError,
  UnavailableError,
  UnsupportedMediaTypeError,
  ValidationError,
} from "./errors.js";
import type { RawBodyRequest } from "./auth.js";
import { observeRequests, requestContext, type HttpObservers } from "./http-observe.js";
import type { Logger } from "./logger.js";
import { LIMITS } from "./messages.js";
import { assertNoForbiddenKeys } from "./safe-json.js";
import { installDrain } from "./drain.js";

/**
 * An express app with the routing and JSON body rules every Concord service shares. With
 * `observers`, every request gets an access-log line, HTTP metrics and its log context
 * (http-observe.ts).
 */
export function createApp(observers?: HttpObservers): Express {
  const app = express();
  app.disable("x-powered-by");
  app.set("etag", false);
  // Exactly one spelling of each path reaches a route: `/v1/2pc/BATCH` and `/v1/2pc/batch/` match
  // nothing. Routes carry their own caller checks (routes.ts), so this is not what keeps a caller
  // out, but a path has one name in logs, signatures and the route table. Set before the first
  // `use`, which creates the router with these settings.
  app.set("case sensitive routing", true);
  app.set("strict routing", true);
  // The access log and HTTP metrics see every request, those refused while draining included.
  if (observers) app.use(...observeRequests(observers));
  // Then, before anything else runs: once the service is stopping, new requests are refused.
  installDrain(app);
  app.use((req, _res, next) => {
    // A body that is not JSON is refused rather than parsed as nothing: the client must learn
    // that its request was not understood.
    const hasBody =
      Number(req.headers["content-length"] ?? 0) > 0 ||
      req.headers["transfer-encoding"] !== undefined;
    if (hasBody && !req.is("application/json")) {
      next(
        new UnsupportedMediaTypeError(
          "request bodies must be JSON (Content-Type: application/json)",
        ),
      );
      return;
    }
    next();
  });
  app.use(
    express.json({
      limit: LIMITS.maxBodyBytes,
      strict: true,
      // Compressed bodies are refused (415), not inflated: a signature covers the bytes as sent,
      // and a small gzip body must not become a large one behind the size limit.
      inflate: false,
      verify: (req, _res, buf, encoding) => {
        // UTF-8 only: the parser would take UTF-16 too, whose bytes the key check below cannot read.
        if (encoding.toLowerCase() !== "utf-8")
          throw Object.assign(new Error(`request bodies must be UTF-8, not ${encoding}`), {
            status: 415,
            type: "charset.unsupported",
          });
        // The exact bytes are kept: request signatures cover the body as sent, not as re-serialized.
        (req as RawBodyRequest).rawBody = buf;
        assertNoForbiddenKeys(buf);
      },
    }),
  );
  if (observers) app.use(requestContext());
  return app;
}

/** Parses a value with a schema, turning the first issue into a 400 that names the field. */
export function parseWith<S extends z.ZodTypeAny>(
  schema: S,
  value: unknown,
  where: string,
): z.infer<S> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data as z.infer<S>;
  const issue = parsed.error.issues[0];
  const path = issue && issue.path.length > 0 ? `${where}.${issue.path.join(".")}` : where;
  throw new ValidationError(`${path}: ${issue?.message ?? "invalid"}`, path);
}

/** The last handlers: unknown routes become 404 and every error becomes `{error: {...}}`. */
export function finishApp(app: Express, logger: Logger): void {
  app.use((req: Request, _res: Response, next: NextFunction) => {
    next(
      new NotFoundError(
        `no route for ${req.method} ${req.path.length > 200 ? `${req.path.slice(0, 200)}…` : req.path}`,
      ),
    );
  });
  app.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
    const reply = errorReply(err, logger, { method: req.method, path: req.path });
    if (err instanceof TooManyRequestsError)
      res.setHeader("retry-after", String(err.retryAfterSeconds));
    res.status(reply.status).json(reply.body);
  });
}

/** The status and body an error becomes; anything not a known error is a bug, logged whole. */
export function errorReply(
  err: unknown,
  logger: Logger,
  context: Record<string, unknown>,
): { status: number; body: unknown } {
  const known = toConcordError(err);
  if (known) return { status: known.httpStatus, body: known.toBody() };
  // ioredis gives up on a command while Redis is down (maxRetriesPerRequest) or finds its
  // stream closed: the store is unreachable, as for a refused connection, and not a bug.
  if (
    err instanceof Error &&
    (err.name === "MaxRetriesPerRequestError" ||
      /max retries per request|Stream isn't writeable/i.test(err.message))
  ) {
    const down = new UnavailableError(
      `a store is unreachable; nothing was done that is not recorded: ${err.message}`,
    );
    return { status: down.httpStatus, body: down.toBody() };
  }
  // Tell the client nothing about internals.
  logger.error({ err, ...context }, "unhandled error");
  return {
    status: 500,
    body: { error: { code: "internal", message: "internal error; see the service log" } },
  };
}

function toConcordError(err: unknown): ConcordError | undefined {
  if (err instanceof ConcordError) return err;
  const e = err as { type?: string; status?: number; message?: string } | undefined;
  if (e?.type === "entity.too.large")
    return new PayloadTooLargeError(`request body exceeds ${LIMITS.maxBodyBytes} bytes`);
  if (e?.type === "entity.forbidden.key")
    return new ValidationError(e.message ?? "a JSON key is not allowed", "body");
  if (e?.type === "entity.parse.failed")
    return new ValidationError(`request body is not valid JSON: ${e.message ?? ""}`.trim(), "body");
  if (e?.type === "encoding.unsupported" || e?.type === "charset.unsupported")
    return new UnsupportedMediaTypeError(e.message ?? "unsupported encoding");
  if (typeof e?.status === "number" && e.status >= 400 && e.status < 500)
    return new ValidationError(e.message ?? "bad request");
  if (isConnectionFailure(err))
    return new UnavailableError(
      `a store is unreachable; nothing was done that is not recorded: ${(err as Error).message}`,
    );
  return undefined;
}

/**
 * A store (PostgreSQL, Redis) that died or restarted under a request. That is an operating
 * error — 503, retry later — not a bug: every step before it was either durable or undone.
 */
export function isConnectionFailure(err: unknown): boolean {
  const code = (err as { code?: unknown } | undefined)?.code;
  if (
    typeof code === "string" &&
    (["ECONNREFUSED", "ECONNRESET", "EPIPE", "ETIMEDOUT", "57P01", "57P02", "57P03"].includes(
      code,
    ) ||
      code.startsWith("08"))
  )
    return true;
  const message = err instanceof Error ? err.message : "";
  return /Connection terminated|not queryable|connection error|Connection is closed|unexpected postmaster exit|the database system is (starting up|shutting down|in recovery mode)/i.test(
    message,
  );
}

/** What one service's HTTP server allows a connection, whoever holds it. */
export interface ServerLimits {
  /** Open connections at once; more are closed as they arrive. */
  maxConnections: number;
  /** Longest time to receive a whole request, headers and body (slow senders are cut off). */
  requestTimeoutMs: number;
}

export const DEFAULT_SERVER_LIMITS: ServerLimits = {
  maxConnections: 1024,
  requestTimeoutMs: 10_000,
};

export function listen(
  app: Express,
  host: string,
  port: number,
  limits: ServerLimits = DEFAULT_SERVER_LIMITS,
): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer(
      {
        // Node checks these timeouts every `connectionsCheckingInterval`; at its default (30 s) a
        // slow body lived far past the request timeout (92 s was seen). Once a second keeps the
        // bound close to the setting.
        requestTimeout: limits.requestTimeoutMs,
        headersTimeout: Math.min(limits.requestTimeoutMs, 10_000),
        connectionsCheckingInterval: 1000,
        // Keep-alive longer than the clients' idle timeout, so a client never writes into a socket
        // the server is closing.
        keepAliveTimeout: 65_000,
      },
      app,
    );
    server.maxConnections = limits.maxConnections;
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve(server);
    });
  });
}
