/**
 * In doubt: what every participant holds prepared, what the decision log says of each, and the
 * log's unfinished transactions; with the two operator actions, retry phase 2 (for a decided
 * transaction) and abort (for an undecided one, after a confirm step).
 */
import type { ActionAnswer, InDoubtAnswer } from "../../operator-routes.js";
import { api, describeError } from "./api.js";
import { ageText, badge, fill, h, table, timeCell } from "./dom.js";

type Prepared = Extract<
  InDoubtAnswer["participants"][number],
  { reachable: true }
>["prepared"][number];
type Unfinished = InDoubtAnswer["unfinished"]["transactions"][number];

/** Where the answer of the last action is shown: kept across refreshes of the tables. */
const result = (): HTMLElement => document.getElementById("action-result") ?? h("div");

function showAnswer(a: ActionAnswer): void {
  fill(
    result(),
    h(
      "div",
      { class: "notice" },
      h("strong", {}, `${a.action} ${a.txid}: `),
      badge(a.decision),
      ` ${a.finished ? "finished" : "not finished yet"} — ${a.message}`,
    ),
    table(
      ["participant", "result", "error"],
      a.participants.map((p) => [
        h("span", {}, p.name),
        badge(p.result),
        h("span", {}, p.error ?? ""),
      ]),
    ),
  );
}

async function act(action: "abort" | "retry", txid: string, reload: () => void): Promise<void> {
  fill(result(), h("div", { class: "notice" }, `${action} ${txid}: sending…`));
  try {
    showAnswer(
      (await api(
        "POST",
        `/v1/operator/transactions/${encodeURIComponent(txid)}/${action}`,
        {},
      )) as ActionAnswer,
    );
  } catch (err) {
    fill(
      result(),
      h(
        "div",
        { class: "error", role: "alert" },
        `${action} ${txid} refused — ${describeError(err)}`,
      ),
    );
  }
  reload();
}

/** The action cell: retry for a decided transaction, abort (with a confirm) for an undecided one. */
function actions(txid: string, log: string, reload: () => void): Node {
  const cell = h("span", { class: "actions" });
  if (log === "commit" || log === "abort") {
    const retry = h(
      "button",
      { type: "button", "data-action": "retry", "data-txid": txid },
      "Retry phase 2 now",
    );
    retry.addEventListener("click", () => void act("retry", txid, reload));
    cell.append(retry);
  }
  if (log === "undecided") {
    const abort = h(
      "button",
      { type: "button", class: "danger", "data-action": "abort", "data-txid": txid },
      "Abort…",
    );
    abort.addEventListener("click", () => {
      const yes = h(
        "button",
        { type: "button", class: "danger", "data-action": "confirm-abort" },
        "Yes, abort",
      );
      const no = h("button", { type: "button" }, "Cancel");
      yes.addEventListener("click", () => void act("abort", txid, reload));
      no.addEventListener("click", () => {
        fill(cell, abort);
      });
      fill(
        cell,
        h(
          "span",
          { class: "confirm" },
          `Write ABORT for ${txid} to the decision register? It cannot be undone.`,
          yes,
          no,
        ),
      );
    });
    cell.append(abort);
  }
  return cell;
}

function preparedRows(answer: InDoubtAnswer, reload: () => void): Node[][] {
  return answer.participants.flatMap((p): Node[][] => {
    if (!p.reachable)
      return [[h("span", {}, p.name), h("span", { class: "error" }, `unreachable: ${p.error}`)]];
    return p.prepared.map((x: Prepared) => [
      h("span", {}, p.name),
      h("a", { class: "mono", href: `#/tx/${encodeURIComponent(x.txid)}` }, x.txid),
      h(
        "span",
        {},
        timeCell(x.preparedAt),
        h("span", { class: "age" }, ` prepared ${ageText(x.ageMs)}`),
      ),
      h(
        "span",
        { class: "mono" },
        `vote ${x.journal.vote ?? "?"}, told ${x.journal.decision ?? "nothing"}`,
      ),
      badge(x.log),
      badge(x.state),
      timeCell(x.deadlineAt),
      actions(x.txid, x.log, reload),
    ]);
  });
}

function unfinishedRows(answer: InDoubtAnswer, reload: () => void): Node[][] {
  return answer.unfinished.transactions.map((t: Unfinished) => [
    h("a", { class: "mono", href: `#/tx/${encodeURIComponent(t.txid)}` }, t.txid),
    badge(t.state),
    badge(t.decision ?? "undecided"),
    h("span", {}, t.reason ?? ""),
    timeCell(t.createdAt),
    timeCell(t.deadlineAt),
    h(
      "span",
      {},
      t.participants
        .map((p) => `${p.name}: ${p.vote ?? "no vote"}${p.acknowledgedAt ? ", acked" : ""}`)
        .join("; "),
    ),
    t.onePhase
      ? h("span", { class: "muted" }, "one-phase: its participant decides")
      : actions(t.txid, t.decision ?? "undecided", reload),
  ]);
}

export function renderInDoubt(view: HTMLElement): () => void {
  const body = h("div", { id: "in-doubt" }, "loading…");
  const refresh = h("button", { type: "button" }, "Refresh");
  const load = async () => {
    try {
      const answer = (await api("GET", "/v1/operator/in-doubt")) as InDoubtAnswer;
      const reload = () => void load();
      const prepared = preparedRows(answer, reload);
      fill(
        body,
        h(
          "p",
          { class: "muted" },
          `as of ${answer.at}: ${answer.counts.undecided} undecided and ${answer.counts.unacked} decided but not acknowledged in the log`,
        ),
        h("h2", {}, `Prepared at participants (${prepared.filter((r) => r.length > 2).length})`),
        table(
          [
            "participant",
            "txid",
            "prepared",
            "participant's journal",
            "log says",
            "log state",
            "deadline",
            "action",
          ],
          prepared,
        ),
        h(
          "h2",
          {},
          `Unfinished in the log (${answer.unfinished.transactions.length}${answer.unfinished.truncated ? ", more not shown" : ""})`,
        ),
        table(
          ["txid", "state", "decision", "reason", "created", "deadline", "participants", "action"],
          unfinishedRows(answer, reload),
        ),
      );
    } catch (err) {
      fill(body, h("p", { class: "error" }, describeError(err)));
    }
  };
  refresh.addEventListener("click", () => void load());
  fill(view, h("h1", {}, "In doubt ", refresh), h("div", { id: "action-result" }), body);
  void load();
  return () => undefined;
}
