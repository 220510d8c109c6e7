/** The operator CLI's requests to the coordinator: JSON in, JSON out, refusals as errors. */
import { wireErrorOf } from "../../shared/wire-errors.js";
import type { Connection } from "./connection.js";

/** The coordinator refused (a 4xx or 5xx): its message, for exit code 1. */
export class ApiRefusal extends Error {
  constructor(
    readonly status: number,
    readonly body: unknown,
  ) {
    const error = wireErrorOf(body);
    super(
      error
        ? `${error.message} (HTTP ${status} ${error.code})`
        : `the coordinator answered HTTP ${status}`,
    );
    this.name = "ApiRefusal";
  }
}

const TIMEOUT_MS = 60_000;

export async function callApi(
  connection: Connection,
  method: "GET" | "POST",
  path: string,
  body?: unknown,
): Promise<unknown> {
  let res: Response;
  try {
    res = await fetch(`${connection.url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${connection.secret}`,
        ...(body !== undefined ? { "content-type": "application/json" } : {}),
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
  } catch (err) {
    const cause = (err as { cause?: { message?: string } }).cause?.message;
    throw new Error(
      `cannot reach the coordinator at ${connection.url}: ${cause ?? (err as Error).message}`,
      { cause: err },
    );
  }
  const text = await res.text();
  let data: unknown = text;
  try {
    data = JSON.parse(text) as unknown;
  } catch {
    // Not JSON: kept as text for the refusal's message.
  }
  if (!res.ok) throw new ApiRefusal(res.status, data);
  return data;
}
