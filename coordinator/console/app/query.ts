/**
 * The transaction list's filters and how they become a request: all in `transactionsQuery`, so
 * the names the server takes can be changed in one place. `GET /v1/transactions` takes `state`
 * and `limit` (and refuses unknown parameters); the participant, reason and age filters are
 * applied to the page the server sent until the server takes them too — then add their names
 * to SERVER_FILTERS.
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
export const SERVER_FILTERS: ReadonlySet<string> = new Set(["state", "limit", "cursor"]);

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
    olderThanSeconds: f.olderThanSeconds > 0 ? String(f.olderThanSeconds) : "",
    limit: String(f.limit),
    cursor: f.cursor ?? "",
  };
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(wanted))
    if (value !== "" && SERVER_FILTERS.has(name)) params.set(name, value);
  const local = (name: string) => wanted[name] !== "" && !SERVER_FILTERS.has(name);
  const keep = (tx: TxSummary): boolean =>
    (!local("participant") || tx.participants.includes(wanted.participant ?? "")) &&
    (!local("reason") || (tx.reason ?? "").includes(wanted.reason ?? "")) &&
    (!local("olderThanSeconds") ||
      (tx.createdAt !== undefined &&
        nowMs - Date.parse(tx.createdAt) >= f.olderThanSeconds * 1000));
  const query = params.toString();
  return { path: `/v1/transactions${query === "" ? "" : `?${query}`}`, keep };
}
