/**
 * The transaction list's filters and how they become a request: all in `transactionsQuery`, so
 * the names the server takes can be changed in one place. `GET /v1/transactions` takes `state`,
 * `participant`, `reason` (part of the text, any case), `until` (an ISO time: the age filter),
 * `limit` and `cursor`, over Redis's window and the archive alike, and refuses unknown
 * parameters. A filter not in SERVER_FILTERS would be applied to the page the server sent.
 */
export interface TxFilters {
  state: string;
  participant: string;
  reason: string;
  /** Only transactions created at least this long ago (0: any age). */
  olderThanSeconds: number;
  limit: number;
  /** The server's `nextCursor` of the page before, when the server pages by cursor. */
  cursor?: string;
}

export interface TxSummary {
  txid: string;
  state: string;
  decision: string | null;
  reason: string | null;
  participants: string[];
  createdAt: string | undefined;
}

/** The query parameters the server understands today. */
export const SERVER_FILTERS: ReadonlySet<string> = new Set([
  "state",
  "participant",
  "reason",
  "until",
  "limit",
  "cursor",
]);

export const DEFAULT_FILTERS: TxFilters = {
  state: "",
  participant: "",
  reason: "",
  olderThanSeconds: 0,
  limit: 50,
};

/** The request path for `f`, and the test the page's rows must pass for what the server left. */
export function transactionsQuery(
  f: TxFilters,
  nowMs = Date.now(),
): { path: string; keep: (tx: TxSummary) => boolean } {
  const wanted: Record<string, string> = {
    state: f.state,
    participant: f.participant.trim(),
    reason: f.reason.trim(),
    // Older than N seconds: created until N seconds before now.
    until: f.olderThanSeconds > 0 ? new Date(nowMs - f.olderThanSeconds * 1000).toISOString() : "",
    limit: String(f.limit),
    cursor: f.cursor ?? "",
  };
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(wanted))
    if (value !== "" && SERVER_FILTERS.has(name)) params.set(name, value);
  const local = (name: string) => wanted[name] !== "" && !SERVER_FILTERS.has(name);
  const keep = (tx: TxSummary): boolean =>
    (!local("participant") || tx.participants.includes(wanted.participant ?? "")) &&
    (!local("reason") ||
      (tx.reason ?? "").toLowerCase().includes((wanted.reason ?? "").toLowerCase())) &&
    (!local("until") ||
      (tx.createdAt !== undefined && Date.parse(tx.createdAt) <= Date.parse(wanted.until ?? "")));
  const query = params.toString();
  return { path: `/v1/transactions${query === "" ? "" : `?${query}`}`, keep };
}
