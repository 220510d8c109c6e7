/**
 * Who may call what. Clients present an API key (`Authorization: Bearer <key>`) to the
 * coordinator's transaction API; services sign their requests to each other with HMAC
 * (shared/request-signing.ts). Refusals are 401 with a message that says what is missing and
 * never echoes a secret; nothing runs before the check.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import type { NextFunction, Request, RequestHandler, Response } from "express";
import { UnauthorizedError } from "./errors.js";
import { ReplayGuard, SIGNATURE_HEADER, signRequest, verifyRequest } from "./request-signing.js";

/** The exact body bytes, kept by the JSON parser (http-server.ts) so signatures can cover them. */
export interface RawBodyRequest extends Request {
  rawBody?: Buffer;
}

const digest = (s: string) => createHash("sha256").update(s).digest();

/** Compares in constant time whatever the lengths: both sides are hashed first. */
function sameSecret(given: string, expected: string): boolean {
  return timingSafeEqual(digest(given), digest(expected));
}

/** The token of `Authorization: Bearer <token>`, or "" when there is none. */
function bearerOf(req: Request): string {
  const header = req.header("authorization") ?? "";
  return header.startsWith("Bearer ") ? header.slice(7).trim() : "";
}

/**
 * The operator's check (admin API, bank accounts and ledger). Fails closed: with no secret
 * configured, nobody is the operator.
 */
export function requireBearer(req: Request, secret: string | undefined, what: string): void {
  if (secret === undefined || secret === "") throw new UnauthorizedError(`${what} is disabled: CONCORD_ADMIN_SECRET is not set on this service`);
  if (!sameSecret(bearerOf(req), secret)) throw new UnauthorizedError(`${what} needs the admin secret: Authorization: Bearer <CONCORD_ADMIN_SECRET>`);
}

export function requireApiKey(keys: readonly string[]): RequestHandler {
  return (req: Request, _res: Response, next: NextFunction) => {
    const given = bearerOf(req);
    // Every key is compared, so the time taken does not tell which one nearly matched.
    let ok = false;
    for (const key of keys) ok = sameSecret(given, key) || ok;
    if (!ok) {
      next(new UnauthorizedError(given === "" ? "this API needs an API key: Authorization: Bearer <key> (one of CONCORD_API_KEYS)" : "the API key is not valid"));
      return;
    }
    next();
  };
}

/**
 * Accepts only requests signed for `audience` with a key that `secretFor` knows for this
 * request. Each valid signature is accepted once (the guard remembers its nonce).
 */
export function requireSignature(audience: string, secretFor: (req: Request, keyId: string) => string | undefined, replay = new ReplayGuard()): RequestHandler {
  return (req: Request, _res: Response, next: NextFunction) => {
    const result = verifyRequest({
      header: req.header(SIGNATURE_HEADER),
      secretFor: (keyId) => secretFor(req, keyId),
      audience,
      method: req.method,
      path: req.originalUrl,
      body: (req as RawBodyRequest).rawBody ?? "",
      replay,
    });
    if (!result.ok) {
      next(new UnauthorizedError(`request signature refused: ${result.reason}`));
      return;
    }
    next();
  };
}

/** Signs outgoing requests for one audience with one key. */
export type Signer = (method: string, pathWithQuery: string, body: string) => Record<string, string>;

export function signerFor(p: { secret: string; keyId: string; audience: string }): Signer {
  return (method, path, body) => ({ [SIGNATURE_HEADER]: signRequest({ ...p, method, path, body }) });
}
