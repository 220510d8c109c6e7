/**
 * The console's single page: a view per hash route (#/transactions, #/tx/<txid>, #/in-doubt,
 * #/charts), a clock, logout, and a banner for errors that concern the whole page.
 */
import { api, describeError, whenUnauthorized } from "./api.js";
import { fill } from "./dom.js";
import { renderCharts } from "./charts-view.js";
import { renderInDoubt } from "./in-doubt-view.js";
import { renderTransaction } from "./transaction-view.js";
import { renderTransactions } from "./transactions-view.js";

let cleanup: () => void = () => undefined;

function element(id: string): HTMLElement {
  const found = document.getElementById(id);
  if (!found) throw new Error(`the console page has no #${id}`);
  return found;
}

function banner(text: string): void {
  const b = element("banner");
  b.textContent = text;
  b.hidden = text === "";
}

function route(): void {
  cleanup();
  const view = element("view");
  const hash = location.hash.replace(/^#\/?/, "");
  const [name = "", arg = ""] = hash.split("/");
  for (const a of element("nav").querySelectorAll("a"))
    a.classList.toggle(
      "current",
      a.dataset.view === (name === "tx" ? "transactions" : name || "transactions"),
    );
  if (name === "tx" && arg !== "") cleanup = renderTransaction(view, decodeURIComponent(arg));
  else if (name === "in-doubt") cleanup = renderInDoubt(view);
  else if (name === "charts") cleanup = renderCharts(view);
  else cleanup = renderTransactions(view);
}

function start(): void {
  whenUnauthorized(() => {
    banner(
      "The console session has ended (expired, logged out, or the operator secret was rotated). Reload the page to log in again.",
    );
  });
  element("logout").addEventListener("click", () => {
    void api("DELETE", "/console/session")
      .then(() => {
        location.reload();
      })
      .catch((err: unknown) => {
        banner(describeError(err));
      });
  });
  const clock = element("clock");
  const tick = () => {
    fill(clock, new Date().toISOString().replace(/\.\d+Z$/, "Z"));
  };
  tick();
  setInterval(tick, 1000);
  window.addEventListener("hashchange", route);
  route();
}

start();
