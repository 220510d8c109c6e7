/**
 * Who is calling. Clients present an API key and operators the service's admin secret
 * (`Authorization: Bearer <token>`); services sign their requests to each other with HMAC
 * (shared/request-signing.ts). A route names the kinds of caller it takes (routes.ts), and
 * `Authenticator.authenticate` either returns the caller or throws: 401 when no valid credential
 * for the route was presented, 403 when the credential is valid but for another kind of caller.
 * Refusals never echo a secret, and nothing of the route runs before the check.
 *
 * The kinds:
 * - `public`: anyone (health checks).
 * - `client`: an API key (coordinator); its id scopes what the client may see.
 * - `admin`: this service's admin secret (failpoints, accounts, all transactions).
 * - `operator`: this service's operator secret (the console, the operator CLI, metrics and the
 *   operator actions). Distinct from the admin secret and every API key (config.ts refuses a
 *   service started with two of them equal), so the people who watch and steer need neither the
 *   failpoints nor a client's key.
 * - `coordinator`: signed by the coordinator with the secret it shares with this participant.
 * - `participant`: signed by a participant with the secret it shares with the coordinator.
 * - `peer`: signed by another participant with the secret this pair of participants shares.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import type { Request } from "express";
import { ForbiddenError, UnauthorizedError } from "./errors.js";
import { ReplayGuard, SIGNATURE_HEADER, signRequest, verifyRequest } from "./request-signing.js";
import {
  CONSOLE_COOKIE,
  CONSOLE_HEADER,
  cookieValue,
  validConsoleSession,
} from "./console-session.js";

export type CallerKind =
  "public" | "client" | "admin" | "operator" | "coordinator" | "participant" | "peer";

export interface Caller {
  kind: CallerKind;
  /**
   * The API key's id, the signing participant's name, "admin", "operator", "coordinator" or
   * "anonymous".
   */
  id: string;
}

/** The key id the coordinator signs with; no participant may be named so (config.ts). */
export const COORDINATOR_KEY_ID = "coordinator";

/** The exact body bytes, kept by the JSON parser (http-server.ts) so signatures can cover them. */
export interface RawBodyRequest extends Request {
  rawBody?: Buffer;
}

/** What a service accepts. Absent entries accept nobody of that kind. */
export interface Credentials {
  /** This service's name: the audience its signed requests must be addressed to. */
  audience: string;
  /** Client API keys by id (coordinator). */
  apiKeys?: ReadonlyMap<string, string>;
  /** The operators' bearer secret of this service. */
  adminSecret?: string | undefined;
  /** The operators' bearer secret of this service: console, CLI, metrics, operator actions. */
  operatorSecret?: string | undefined;
  /** Participant: the secret it shares with the coordinator (key id "coordinator"). */
  coordinatorSecret?: string;
  /** Coordinator: each participant's secret, by participant name (its key id). */
  participantSecrets?: ReadonlyMap<string, string>;
  /** Participant: the secret it shares with each peer, by peer name (its key id). */
  peerSecrets?: ReadonlyMap<string, string>;
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

const WHO: Record<CallerKind, string> = {
  public: "anyone",
  client: "clients (Authorization: Bearer <API key>)",
  admin:
    "administrators (Authorization: Bearer <this service's admin secret, CONCORD_ADMIN_SECRET>)",
  operator:
    "operators (Authorization: Bearer <this service's operator secret, CONCORD_OPERATOR_SECRET>)",
  coordinator: "the coordinator (a Concord-Signature request signature)",
  participant: "participants (a Concord-Signature request signature)",
  peer: "peer participants (a Concord-Signature request signature)",
};

const BEARER_NAME: Partial<Record<CallerKind, string>> = {
  client: "an API key",
  admin: "the admin secret",
  operator: "the operator secret",
};

export class Authenticator {
  private readonly replay = new ReplayGuard();

  constructor(private readonly credentials: Credentials) {}

  /** The caller of `req` if it is one of `allowed`; throws UnauthorizedError or ForbiddenError. */
  authenticate(req: Request, allowed: readonly CallerKind[]): Caller {
    if (allowed.includes("public")) return { kind: "public", id: "anonymous" };
    const signature = req.header(SIGNATURE_HEADER);
    if (signature !== undefined) return this.signed(req, signature, allowed);
    const token = bearerOf(req);
    if (token !== "") return this.bearer(token, allowed);
    const session = this.consoleSession(req, allowed);
    if (session) return session;
    throw new UnauthorizedError(
      `this route is for ${allowed.map((k) => WHO[k]).join(" or ")}; no credential was presented`,
    );
  }

  private bearer(token: string, allowed: readonly CallerKind[]): Caller {
    // Every secret is compared, so the time taken does not tell which one nearly matched.
    let found: Caller | undefined;
    for (const [id, key] of this.credentials.apiKeys ?? [])
      if (sameSecret(token, key) && !found) found = { kind: "client", id };
    const admin = this.credentials.adminSecret;
    if (admin !== undefined && admin !== "" && sameSecret(token, admin))
      found ??= { kind: "admin", id: "admin" };
    const operator = this.credentials.operatorSecret;
    if (operator !== undefined && operator !== "" && sameSecret(token, operator))
      found ??= { kind: "operator", id: "operator" };
    if (!found)
      throw new UnauthorizedError(
        `the bearer token is not valid here; this route is for ${allowed.map((k) => WHO[k]).join(" or ")}`,
      );
    if (!allowed.includes(found.kind))
      throw new ForbiddenError(
        `${BEARER_NAME[found.kind] ?? found.kind} cannot call this route; it is for ${allowed.map((k) => WHO[k]).join(" or ")}`,
      );
    return found;
  }

  // --- web console session (shared/console-session.ts) ---
  /**
   * The console's session cookie counts as the operator secret ONLY with the `Concord-Console`
   * header beside it. That is the CSRF defence: a browser sends the cookie with any request to
   * this origin, also one a hostile page makes, but a cross-site page can add a custom header
   * only after a CORS preflight, and no Concord service answers preflights. (SameSite=Strict is
   * a second fence, not the only one.) Without the header the cookie is ignored.
   */
  private consoleSession(req: Request, allowed: readonly CallerKind[]): Caller | undefined {
    if (req.header(CONSOLE_HEADER) === undefined) return undefined;
    const token = cookieValue(req.header("cookie"), CONSOLE_COOKIE);
    if (token === "") return undefined;
    if (!validConsoleSession(token, this.credentials.operatorSecret))
      throw new UnauthorizedError(
        "the console session has expired or is not valid here; log in again at /console",
      );
    if (!allowed.includes("operator"))
      throw new ForbiddenError(
        `a console session cannot call this route; it is for ${allowed.map((k) => WHO[k]).join(" or ")}`,
      );
    return { kind: "operator", id: "operator" };
  }
  // --- end web console session ---

  private signed(req: Request, header: string, allowed: readonly CallerKind[]): Caller {
    let kind: CallerKind | undefined;
    const result = verifyRequest({
      header,
      // Only the keys of kinds this route takes are known here: a peer's key is simply not
      // accepted on a coordinator-only route, whatever the path looks like.
      secretFor: (keyId) => {
        const found = this.secretFor(keyId, allowed);
        kind = found?.kind;
        return found?.secret;
      },
      audience: this.credentials.audience,
      method: req.method,
      path: req.originalUrl,
      body: (req as RawBodyRequest).rawBody ?? "",
      contentType: req.header("content-type") ?? "",
      contentEncoding: req.header("content-encoding") ?? "",
      replay: this.replay,
    });
    if (!result.ok || kind === undefined)
      throw new UnauthorizedError(
        `request signature refused: ${result.ok ? "unknown key" : result.reason}`,
      );
    return { kind, id: result.keyId };
  }

  private secretFor(
    keyId: string,
    allowed: readonly CallerKind[],
  ): { kind: CallerKind; secret: string } | undefined {
    const c = this.credentials;
    if (keyId === COORDINATOR_KEY_ID)
      return allowed.includes("coordinator") && c.coordinatorSecret
        ? { kind: "coordinator", secret: c.coordinatorSecret }
        : undefined;
    const participant = allowed.includes("participant")
      ? c.participantSecrets?.get(keyId)
      : undefined;
    if (participant) return { kind: "participant", secret: participant };
    const peer = allowed.includes("peer") ? c.peerSecrets?.get(keyId) : undefined;
    if (peer) return { kind: "peer", secret: peer };
    return undefined;
  }
}

/** Signs an outgoing request for one audience with one key: the headers to add. */
export type Signer = (
  method: string,
  pathWithQuery: string,
  body: string,
  contentType: string,
) => Record<string, string>;

export function signerFor(p: { secret: string; keyId: string; audience: string }): Signer {
  return (method, path, body, contentType) => ({
    [SIGNATURE_HEADER]: signRequest({ ...p, method, path, body, contentType, contentEncoding: "" }),
  });
}
