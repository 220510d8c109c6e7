/**
 * The console's calls to the coordinator. The session cookie goes with them by itself; the
 * `Concord-Console` header is what makes the coordinator take it (shared/auth.ts: a cross-site
 * page cannot send it, so a forged request carries no operator rights).
 */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

/** What went wrong, as a line an operator can act on. */
export function describeError(err: unknown): string {
  if (err instanceof ApiError) return `HTTP ${err.status} ${err.code}: ${err.message}`;
  return err instanceof Error ? err.message : String(err);
}

let onUnauthorized: () => void = () => undefined;

/** Called when a call gets 401: the session expired or the operator secret was rotated. */
export function whenUnauthorized(handler: () => void): void {
  onUnauthorized = handler;
}

export async function api(method: "GET" | "POST" | "DELETE", path: string, body?: unknown) {
  const headers: Record<string, string> = { "concord-console": "1", accept: "application/json" };
  if (body !== undefined) headers["content-type"] = "application/json";
  let res: Response;
  try {
    res = await fetch(path, {
      method,
      headers,
      credentials: "same-origin",
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  } catch (err) {
    throw new ApiError(0, "unreachable", `the coordinator did not answer (${String(err)})`);
  }
  const text = await res.text();
  let data: unknown;
  try {
    data = text === "" ? undefined : JSON.parse(text);
  } catch {
    data = text;
  }
  if (res.ok) return data;
  if (res.status === 401) onUnauthorized();
  const error = (data as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
  throw new ApiError(
    res.status,
    typeof error?.code === "string" ? error.code : "error",
    typeof error?.message === "string" ? error.message : text.slice(0, 300),
  );
}

/** A field of an answer as a string, or undefined: answers are read defensively. */
export function str(v: unknown): string | undefined {
  return typeof v === "string" ? v : undefined;
}

export function num(v: unknown): number | undefined {
  return typeof v === "number" && Number.isFinite(v) ? v : undefined;
}

export function obj(v: unknown): Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v)
    ? (v as Record<string, unknown>)
    : {};
}

export function arr(v: unknown): unknown[] {
  return Array.isArray(v) ? (v as unknown[]) : [];
}
