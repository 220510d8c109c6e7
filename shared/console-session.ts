/**
 * The web console's session: a browser cannot send `Authorization: Bearer` on a navigation, so an
 * operator who typed the operator secret into the console's login form gets a cookie instead. The
 * cookie holds `<expiry ms>.<HMAC>`: an HMAC over the expiry, keyed by a key derived from the
 * operator secret. No session store is needed, a forged or altered cookie fails the HMAC, and
 * rotating the operator secret (CONCORD_OPERATOR_SECRET) ends every session at once.
 */
import { createHash, createHmac, timingSafeEqual } from "node:crypto";

export const CONSOLE_COOKIE = "concord_console";
/**
 * The header the console's own API calls carry. A cross-site page cannot send a custom header
 * without a CORS preflight, which no Concord service ever grants; so a request with the cookie
 * and this header comes from the console's own pages (the CSRF defence, shared/auth.ts).
 */
export const CONSOLE_HEADER = "concord-console";
/** How long a console session lasts after the login: one working day. */
export const CONSOLE_SESSION_MS = 8 * 60 * 60 * 1000;

/** A key of its own for sessions: the operator secret itself is never the HMAC key. */
function sessionKey(operatorSecret: string): Buffer {
  return createHash("sha256").update(`concord-console-session-v1\0${operatorSecret}`).digest();
}

function mac(operatorSecret: string, expiresAtMs: number): string {
  return createHmac("sha256", sessionKey(operatorSecret))
    .update(`console-session:${expiresAtMs}`)
    .digest("base64url");
}

/** A session token good until `nowMs + CONSOLE_SESSION_MS`. */
export function mintConsoleSession(operatorSecret: string, nowMs = Date.now()): string {
  const expiresAtMs = nowMs + CONSOLE_SESSION_MS;
  return `${expiresAtMs}.${mac(operatorSecret, expiresAtMs)}`;
}

/** True when `token` was minted with this operator secret and has not expired. */
export function validConsoleSession(
  token: string,
  operatorSecret: string | undefined,
  nowMs = Date.now(),
): boolean {
  if (operatorSecret === undefined || operatorSecret === "") return false;
  const match = /^(\d{1,16})\.([A-Za-z0-9_-]{43})$/.exec(token);
  if (!match) return false;
  const expiresAtMs = Number(match[1]);
  // A token cannot last longer than a session from now: a longer expiry was not minted here.
  if (expiresAtMs <= nowMs || expiresAtMs > nowMs + CONSOLE_SESSION_MS) return false;
  const given = Buffer.from(match[2] ?? "", "utf8");
  const expected = Buffer.from(mac(operatorSecret, expiresAtMs), "utf8");
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** The value of one cookie in a `Cookie:` header, or "" when it is absent. */
export function cookieValue(header: string | undefined, name: string): string {
  for (const part of (header ?? "").split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return "";
}

/** The Set-Cookie value that opens a session (HttpOnly: page scripts cannot read it). */
export function sessionCookie(token: string): string {
  return `${CONSOLE_COOKIE}=${token}; HttpOnly; SameSite=Strict; Path=/; Max-Age=${CONSOLE_SESSION_MS / 1000}`;
}

/** The Set-Cookie value that ends one. */
export function clearedSessionCookie(): string {
  return `${CONSOLE_COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0`;
}
