/**
 * HMAC-SHA256 request signatures between Concord services (coordinator -> participant, and a
 * participant asking the coordinator or a peer for a decision).
 *
 * Header: `Concord-Signature: v2;key=<key id>;ts=<unix ms>;nonce=<32 hex>;sig=<base64url>`
 *
 * The signature covers a version tag, the audience (the service the request is for), the key
 * id, the method, the path with its query, the Content-Type and Content-Encoding headers, the
 * timestamp, the nonce and the SHA-256 of the exact body bytes. The two headers are covered
 * because they change how a body is read (v1 signed neither, and gzip bodies were inflated
 * before the check). So a captured request cannot be sent to another service (audience),
 * changed (method, path, headers, body), or sent again later (timestamp window plus a nonce remembered for that
 * window). A replay inside the window after the receiver restarted is possible; every 2PC
 * message is idempotent, so it repeats an answer and changes nothing.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from "node:crypto";

export const SIGNATURE_HEADER = "concord-signature";
/** How far a signature's timestamp may be from the receiver's clock, either way. */
export const DEFAULT_SIGNATURE_WINDOW_MS = 30_000;

const HEADER_FORMAT =
  /^v2;key=([A-Za-z0-9_.:-]{1,64});ts=(\d{13});nonce=([0-9a-f]{32});sig=([A-Za-z0-9_-]{43})$/;

export interface SignInput {
  secret: string;
  keyId: string;
  audience: string;
  method: string;
  path: string;
  body: string | Buffer;
  /** The Content-Type header as sent; "" when there is none. */
  contentType?: string;
  /** The Content-Encoding header as sent; "" when there is none. */
  contentEncoding?: string;
  nowMs?: number;
  nonce?: string;
}

interface Canonical {
  audience: string;
  keyId: string;
  method: string;
  path: string;
  contentType: string;
  contentEncoding: string;
  ts: string;
  nonce: string;
  body: string | Buffer;
}

/** Header values are compared as HTTP does: case-insensitively, without surrounding blanks. */
const headerValue = (v: string | undefined) => (v ?? "").trim().toLowerCase();

function canonical(p: Canonical): string {
  const bodyHash = createHash("sha256").update(p.body).digest("hex");
  return [
    "concord-v2",
    p.audience,
    p.keyId,
    p.method.toUpperCase(),
    p.path,
    headerValue(p.contentType),
    headerValue(p.contentEncoding),
    p.ts,
    p.nonce,
    bodyHash,
  ].join("\n");
}

function mac(secret: string, text: string): Buffer {
  return createHmac("sha256", secret).update(text).digest();
}

/** The value of the Concord-Signature header for one request. */
export function signRequest(p: SignInput): string {
  const ts = String(p.nowMs ?? Date.now());
  const nonce = p.nonce ?? randomBytes(16).toString("hex");
  const sig = mac(
    p.secret,
    canonical({
      ...p,
      contentType: p.contentType ?? "",
      contentEncoding: p.contentEncoding ?? "",
      ts,
      nonce,
    }),
  ).toString("base64url");
  return `v2;key=${p.keyId};ts=${ts};nonce=${nonce};sig=${sig}`;
}

/**
 * Remembers the nonces seen within the window, so each signed request is accepted once. Entries
 * leave in arrival order once older than the window; the map is bounded all the same.
 */
export class ReplayGuard {
  private readonly seen = new Map<string, number>();

  constructor(
    private readonly windowMs = DEFAULT_SIGNATURE_WINDOW_MS,
    private readonly maxEntries = 1_000_000,
  ) {}

  /** True the first time a nonce is offered; false for a repeat or when the guard is full. */
  admit(nonce: string, nowMs: number): boolean {
    for (const [key, at] of this.seen) {
      // Older than twice the window: its timestamp check alone now rejects a replay.
      if (nowMs - at <= 2 * this.windowMs) break;
      this.seen.delete(key);
    }
    if (this.seen.has(nonce)) return false;
    if (this.seen.size >= this.maxEntries) return false;
    this.seen.set(nonce, nowMs);
    return true;
  }
}

export type VerifyResult = { ok: true; keyId: string } | { ok: false; reason: string };

export interface VerifyInput {
  header: string | undefined;
  /** The secret for a key id, or undefined when the key id is not accepted here. */
  secretFor: (keyId: string) => string | undefined;
  audience: string;
  method: string;
  path: string;
  body: string | Buffer;
  contentType?: string;
  contentEncoding?: string;
  replay: ReplayGuard;
  nowMs?: number;
  windowMs?: number;
}

/** Checks a request's signature. Reasons are safe to show the caller: they name no secret. */
export function verifyRequest(p: VerifyInput): VerifyResult {
  if (!p.header) return { ok: false, reason: `missing ${SIGNATURE_HEADER} header` };
  const m = HEADER_FORMAT.exec(p.header);
  if (!m) return { ok: false, reason: `malformed ${SIGNATURE_HEADER} header` };
  const [, keyId = "", ts = "", nonce = "", sig = ""] = m;
  const secret = p.secretFor(keyId);
  if (secret === undefined || secret === "")
    return { ok: false, reason: `key ${keyId} is not accepted here` };
  const now = p.nowMs ?? Date.now();
  const windowMs = p.windowMs ?? DEFAULT_SIGNATURE_WINDOW_MS;
  if (Math.abs(now - Number(ts)) > windowMs)
    return {
      ok: false,
      reason: `signature timestamp is more than ${windowMs / 1000} s from this server's clock`,
    };
  const expected = mac(
    secret,
    canonical({
      audience: p.audience,
      keyId,
      method: p.method,
      path: p.path,
      contentType: p.contentType ?? "",
      contentEncoding: p.contentEncoding ?? "",
      ts,
      nonce,
      body: p.body,
    }),
  );
  const given = Buffer.from(sig, "base64url");
  if (given.length !== expected.length || !timingSafeEqual(given, expected))
    return { ok: false, reason: "signature does not match" };
  // Only a valid signature may take a nonce: otherwise anyone could burn nonces or fill the guard.
  if (!p.replay.admit(nonce, now)) return { ok: false, reason: "signature already used (replay)" };
  return { ok: true, keyId };
}
