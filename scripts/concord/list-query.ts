/**
 * The query of `tx list`: its flags as GET /v1/transactions query parameters, passed through as
 * given (the coordinator checks them and refuses what it does not know, naming it). Kept apart
 * so the names follow the API's list filters: state, participant, reason (part of the text),
 * since and until (ISO times of creation), limit, and the cursor of the page before.
 */
export const LIST_FLAGS = {
  state: "state",
  participant: "participant",
  reason: "reason",
  limit: "limit",
  cursor: "cursor",
  since: "since",
  until: "until",
} as const;

export type ListFlag = keyof typeof LIST_FLAGS;

export function listQuery(flags: Partial<Record<ListFlag, string | number | boolean>>): string {
  const params = new URLSearchParams();
  for (const [flag, param] of Object.entries(LIST_FLAGS)) {
    const value = flags[flag as ListFlag];
    if (value !== undefined) params.set(param, String(value));
  }
  const text = params.toString();
  return text === "" ? "" : `?${text}`;
}
