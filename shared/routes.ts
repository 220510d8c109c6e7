/**
 * Routes declared with who may call them. Every route of every service is a RouteSpec, and the
 * only way to mount a handler is `mountRoute`, which puts the caller check on the route itself.
 * So the path that routing matched is the path that was authorized: no path string is compared
 * anywhere, and a request spelled differently (case, trailing slash, encoded characters) either
 * matches a route and meets that route's check, or matches nothing and is a 404. Apps are built
 * with case-sensitive, strict routing (http-server.ts), so `/v1/2pc/BATCH` and `/v1/2pc/batch/`
 * match nothing.
 *
 * The same specs generate the README's route table (scripts/route-table.ts) and drive the test
 * that walks every route with every credential and many spellings.
 */
import type { Express, NextFunction, Request, RequestHandler, Response } from "express";
import type { z } from "zod";
import type { Authenticator, Caller, CallerKind } from "./auth.js";

export type HttpMethod = "GET" | "POST" | "PUT" | "DELETE";

export interface RouteSpec {
  readonly method: HttpMethod;
  /** An express path: literal segments (letters, digits, `-`, `.`) and `:params`, nothing else. */
  readonly path: string;
  /** Who may call it; `public` alone means anyone. */
  readonly callers: readonly CallerKind[];
  /** One line for the README's route table. */
  readonly summary: string;
  /** When the route exists only under a setting, that setting. */
  readonly onlyWhen?: string;
  /*
   * The schemas below are the very objects the handler parses with (`parseWith`), so the OpenAPI
   * document (openapi.ts) says what the service checks, not what someone remembered to write.
   */
  /** The JSON body; a route that takes one must name it (a test refuses a POST or PUT without). */
  readonly body?: z.ZodTypeAny;
  /** The query string: an object schema whose fields are the parameters. */
  readonly query?: z.AnyZodObject;
  /** The path's `:params`, by name (a param not listed is documented as a plain string). */
  readonly params?: Readonly<Record<string, z.ZodTypeAny>>;
  /** Optional request headers the handler checks when present, by name. */
  readonly headers?: Readonly<Record<string, z.ZodTypeAny>>;
  /**
   * Answers by status: at least the success. Errors not listed are documented as the common
   * error body (`{error: {code, message, field?}}`).
   */
  readonly responses?: Readonly<Record<number, ResponseSpec>>;
}

/** One documented answer. */
export interface ResponseSpec {
  readonly description: string;
  /** Its body; none for an answer without one. */
  readonly schema?: z.ZodTypeAny;
  /** Default application/json. */
  readonly contentType?: string;
}

/** A route handler: the caller has been authenticated and authorized for this route. */
export type RouteHandler = (req: Request, res: Response, caller: Caller) => Promise<void> | void;

/** The routes mounted on each app so far: a route mounted twice would be shadowed unnoticed. */
const mounted = new WeakMap<Express, RouteSpec[]>();

/** The specs mounted on `app` so far, in mounting order (what the OpenAPI document lists). */
export function mountedRoutes(app: Express): readonly RouteSpec[] {
  return mounted.get(app) ?? [];
}

/**
 * Mounts `handler` at `spec` behind the caller check. Express 5 forwards a rejected promise to the
 * error handler, so a handler may throw ConcordErrors.
 */
export function mountRoute(
  app: Express,
  auth: Authenticator,
  spec: RouteSpec,
  handler: RouteHandler,
): void {
  if (spec.callers.length === 0)
    throw new Error(`route ${spec.method} ${spec.path} names no caller`);
  // Literal segments may hold a dot after their first character (`/openapi.json`); parameters not.
  if (!/^(\/(:[a-z0-9][a-z0-9-]*|[a-z0-9][a-z0-9.-]*))+$/.test(spec.path) && spec.path !== "/")
    throw new Error(`route path ${spec.path} is not plain`);
  const list = mounted.get(app) ?? [];
  if (list.some((r) => r.method === spec.method && r.path === spec.path))
    throw new Error(`route ${spec.method} ${spec.path} mounted twice`);
  list.push(spec);
  mounted.set(app, list);

  const guarded: RequestHandler = async (req: Request, res: Response, next: NextFunction) => {
    await handler(req, res, auth.authenticate(req, spec.callers));
    // A handler that neither answered nor threw is a bug: say so rather than hang the client.
    // (A client that went away before the answer is not one.)
    if (!res.headersSent && !req.socket.destroyed)
      next(new Error(`route ${spec.method} ${spec.path} sent no answer`));
  };
  app[METHODS[spec.method]](spec.path, guarded);
}

const METHODS = {
  GET: "get",
  POST: "post",
  PUT: "put",
  DELETE: "delete",
} as const satisfies Record<HttpMethod, keyof Express>;
