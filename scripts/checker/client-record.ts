/**
 * The client record: what clients were told, one JSON object per line,
 * `{"txid": "...", "outcome": "committed"|"aborted"|"unknown"|"error"}`. Other fields (a reason,
 * a latency) are allowed and ignored, so a load generator can log more than the checker reads.
 */
import { readFileSync } from "node:fs";
import { z } from "zod";
import { txidSchema } from "../../shared/messages.js";
import { CLIENT_OUTCOMES, type ClientEntry, type ClientOutcome } from "./facts.js";

const entrySchema = z.object({
  txid: txidSchema,
  outcome: z.enum(CLIENT_OUTCOMES as [ClientOutcome, ...ClientOutcome[]]),
});

/** Thrown when a line of the client record is not JSON or not an entry; names the line. */
export class ClientRecordError extends Error {
  constructor(
    readonly source: string,
    readonly line: number,
    detail: string,
  ) {
    super(`${source}:${line}: ${detail}`);
    this.name = "ClientRecordError";
  }
}

export function parseClientRecord(text: string, source: string): ClientEntry[] {
  const entries: ClientEntry[] = [];
  text.split("\n").forEach((raw, i) => {
    const line = raw.trim();
    if (line !== "") entries.push(parseLine(line, source, i + 1));
  });
  return entries;
}

function parseLine(line: string, source: string, lineNumber: number): ClientEntry {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (err) {
    throw new ClientRecordError(source, lineNumber, `not JSON (${(err as Error).message})`);
  }
  const parsed = entrySchema.safeParse(value);
  if (!parsed.success) {
    const issues = parsed.error.issues
      .map((i) => `${i.path.join(".") || "line"}: ${i.message}`)
      .join("; ");
    throw new ClientRecordError(source, lineNumber, `not a client record entry (${issues})`);
  }
  return parsed.data;
}

export function readClientRecord(path: string): ClientEntry[] {
  return parseClientRecord(readFileSync(path, "utf8"), path);
}
