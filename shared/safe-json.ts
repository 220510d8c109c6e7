/**
 * JSON parsing that refuses the keys which reach an object's prototype chain once parsed data is
 * copied, merged or rebuilt: `__proto__`, `constructor` and `prototype`, at any depth. zod's
 * record and object parsing rebuild objects, and a `__proto__` key was silently dropped there
 * before the strict check could see it; refusing such bodies at parse time, at every service,
 * means no later layer has to get this right.
 */

/** Keys refused anywhere in a JSON document. */
export const FORBIDDEN_JSON_KEYS: ReadonlySet<string> = new Set([
  "__proto__",
  "constructor",
  "prototype",
]);

/** Thrown when a JSON document has a key in FORBIDDEN_JSON_KEYS. */
export class ForbiddenJsonKeyError extends SyntaxError {
  /** body-parser keeps these two when it wraps a verify error: a 400 with our type. */
  readonly status = 400;
  readonly type = "entity.forbidden.key";
  constructor(readonly key: string) {
    super(
      `JSON key ${JSON.stringify(key)} is not allowed anywhere in a body (it can reach an object's prototype)`,
    );
    this.name = "ForbiddenJsonKeyError";
  }
}

function refuseForbiddenKeys(key: string, value: unknown): unknown {
  if (FORBIDDEN_JSON_KEYS.has(key)) throw new ForbiddenJsonKeyError(key);
  return value;
}

// A forbidden key is spelled out in the text, or hidden behind a \u escape: a document with
// neither cannot have one, and skips the slower reviver pass. Array indexes never match.
const SUSPECT = /__proto__|constructor|prototype|\\u/;
const SUSPECT_BYTES = ["__proto__", "constructor", "prototype", "\\u"].map((s) => Buffer.from(s));

/**
 * Throws ForbiddenJsonKeyError when the bytes are JSON with a forbidden key. Text that is not
 * JSON passes: reporting that is the parser's job. Looked for in the bytes themselves, so that
 * the common body (no suspect at all) is not decoded a second time before the parser's own.
 */
export function assertNoForbiddenKeys(bytes: Buffer): void {
  if (!SUSPECT_BYTES.some((s) => bytes.includes(s))) return;
  try {
    JSON.parse(bytes.toString("utf8"), refuseForbiddenKeys);
  } catch (err) {
    if (err instanceof ForbiddenJsonKeyError) throw err;
  }
}

/** JSON.parse that also throws ForbiddenJsonKeyError. */
export function parseJsonSafely(text: string): unknown {
  return SUSPECT.test(text) ? JSON.parse(text, refuseForbiddenKeys) : JSON.parse(text);
}
