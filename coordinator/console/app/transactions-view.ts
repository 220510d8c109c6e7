/** The transaction list: filters, a dense table, paging. */
import { api, arr, describeError, obj, str } from "./api.js";
import { badge, fill, h, table, timeCell } from "./dom.js";
import { DEFAULT_FILTERS, transactionsQuery, type TxFilters, type TxSummary } from "./query.js";

const STATES = [
  "",
  "active",
  "finished",
  "preparing",
  "committing",
  "aborting",
  "committed",
  "aborted",
];
const AGES: [string, number][] = [
  ["any age", 0],
  ["older than 10 s", 10],
  ["older than 1 min", 60],
  ["older than 10 min", 600],
  ["older than 1 h", 3600],
];
const MAX_LIMIT = 500;

let filters: TxFilters = { ...DEFAULT_FILTERS };

function summaryOf(v: unknown): TxSummary {
  const o = obj(v);
  return {
    txid: str(o.txid) ?? "?",
    state: str(o.state) ?? "?",
    decision: str(o.decision) ?? null,
    reason: str(o.reason) ?? null,
    participants: arr(o.participants).map((p) => String(p)),
    createdAt: str(o.createdAt),
  };
}

function filterForm(onChange: () => void): HTMLFormElement {
  const select = (name: string, options: [string, string][], value: string) =>
    h(
      "select",
      { name },
      ...options.map(([label, v]) => h("option", { value: v, selected: v === value }, label)),
    );
  const form = h(
    "form",
    { class: "filters", id: "tx-filters" },
    h(
      "label",
      {},
      "state",
      select(
        "state",
        STATES.map((s) => [s || "any", s]),
        filters.state,
      ),
    ),
    h("label", {}, "participant", h("input", { name: "participant", value: filters.participant })),
    h("label", {}, "reason contains", h("input", { name: "reason", value: filters.reason })),
    h(
      "label",
      {},
      "age",
      select(
        "age",
        AGES.map(([l, s]) => [l, String(s)]),
        String(filters.olderThanSeconds),
      ),
    ),
    h("button", { type: "submit" }, "Apply"),
  );
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const data = new FormData(form);
    const field = (name: string) => {
      const v = data.get(name);
      return typeof v === "string" ? v : "";
    };
    filters = {
      ...DEFAULT_FILTERS,
      state: field("state"),
      participant: field("participant"),
      reason: field("reason"),
      olderThanSeconds: Number(field("age")),
    };
    onChange();
  });
  return form;
}

function row(tx: TxSummary): Node[] {
  return [
    h("a", { class: "mono", href: `#/tx/${encodeURIComponent(tx.txid)}` }, tx.txid),
    badge(tx.state),
    badge(tx.decision),
    h("span", { class: "reason" }, tx.reason ?? ""),
    h("span", {}, tx.participants.join(", ")),
    timeCell(tx.createdAt),
  ];
}

/** Renders the list into `view`; returns nothing to clean up. */
export function renderTransactions(view: HTMLElement): () => void {
  const status = h("div", { class: "pager" });
  const results = h("div", { id: "tx-list" });
  const pager = h("div", { class: "pager" });
  const load = async () => {
    fill(status, "loading…");
    const { path, keep } = transactionsQuery(filters);
    try {
      const data = obj(await api("GET", path));
      const all = arr(data.transactions).map(summaryOf);
      const shown = all.filter(keep);
      fill(
        results,
        table(["txid", "state", "decision", "reason", "participants", "created"], shown.map(row)),
      );
      fill(status, `${shown.length} shown of ${all.length} fetched, newest first · GET ${path}`);
      fill(pager, pageButton(str(data.nextCursor), all.length, load));
    } catch (err) {
      fill(status, h("span", { class: "error" }, describeError(err)));
    }
  };
  fill(
    view,
    h("h1", {}, "Transactions"),
    filterForm(() => void load()),
    status,
    results,
    pager,
  );
  void load();
  return () => undefined;
}

/** Next page by the server's cursor when it gives one; else a longer page, up to its bound. */
function pageButton(cursor: string | undefined, fetched: number, load: () => Promise<void>) {
  if (cursor !== undefined) {
    const b = h("button", { type: "button" }, "Next page");
    b.addEventListener("click", () => {
      filters = { ...filters, cursor };
      void load();
    });
    return b;
  }
  if (fetched < filters.limit || filters.limit >= MAX_LIMIT) return null;
  const b = h("button", { type: "button" }, `Show ${Math.min(MAX_LIMIT, filters.limit + 50)}`);
  b.addEventListener("click", () => {
    filters = { ...filters, limit: Math.min(MAX_LIMIT, filters.limit + 50) };
    void load();
  });
  return b;
}
