/**
 * The web console in a real browser (Debian's chromium driven by playwright-core) against a
 * cluster of its own (scripts/console/demo-world.ts: admin endpoints on, recovery held off), so
 * a transaction held in doubt stays so until the console's abort resolves it. Never skipped:
 * without chromium the suite fails and says how to install it.
 */
import { expect } from "chai";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type BrowserContext, type Page } from "playwright-core";
import { startCluster, stopCluster } from "../../scripts/cluster/cluster.js";
import { removeOutsideData } from "../../scripts/cluster/postgres.js";
import { disarmAllFailpoints } from "../../scripts/cluster/admin-client.js";
import { operatorSecretOf, type ClusterFile } from "../../scripts/cluster/cluster-file.js";
import {
  HTML_REASON,
  startHostileParticipant,
  type HostileParticipant,
} from "../../scripts/console/hostile-participant.js";
import {
  asOperator,
  CONSOLE_CLUSTER_ENV,
  holdInDoubt,
  openAccount,
  preparedInDoubt,
  run,
  transferBody,
} from "../../scripts/console/demo-world.js";
import { CHROMIUM, CHROMIUM_ARGS } from "../../scripts/console/browser.js";

describe("the web console, in a browser", function () {
  this.timeout(300_000);
  let dir: string | undefined;
  let profile: string | undefined;
  let cluster: ClusterFile;
  let hostile: HostileParticipant | undefined;
  let context: BrowserContext | undefined;
  let page: Page;
  const held: AbortController[] = [];

  const consoleUrl = () => `${cluster.coordinator.url}/console`;
  const secret = () => operatorSecretOf(cluster, "coordinator");

  before(async function () {
    if (!existsSync(CHROMIUM))
      throw new Error(
        `no browser at ${CHROMIUM}: run \`node scripts/install-browser.mjs\` (as root) to install Debian's chromium`,
      );
    dir = mkdtempSync(join(tmpdir(), "concord-console-"));
    cluster = await startCluster({ dir, banks: 2, inventory: 0, env: CONSOLE_CLUSTER_ENV });
    hostile = await startHostileParticipant(dir);
    profile = mkdtempSync(join(tmpdir(), "concord-console-browser-"));
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      args: CHROMIUM_ARGS,
      headless: true,
    });
    page = context.pages()[0] ?? (await context.newPage());
  });

  after(async function () {
    for (const c of held) c.abort();
    await context?.close();
    await hostile?.close();
    if (dir) {
      await disarmAllFailpoints(cluster).catch(() => undefined);
      await stopCluster(dir);
      removeOutsideData(dir);
      rmSync(dir, { recursive: true, force: true });
    }
    if (profile) rmSync(profile, { recursive: true, force: true });
  });

  /** Logs in through the login page the 401 shows. */
  async function logIn(p: Page, withSecret: string) {
    const res = await p.goto(consoleUrl());
    expect(res?.status()).to.equal(401);
    await p.fill("#secret", withSecret);
    await p.click("#login button[type=submit]");
  }

  it("is 401 without the operator secret, and a wrong secret opens nothing", async function () {
    const page401 = await fetch(consoleUrl());
    expect(page401.status).to.equal(401);
    expect(page401.headers.get("content-security-policy")).to.match(/default-src 'self'/);
    expect(await page401.text()).to.include('id="login"');
    const wrong = await fetch(`${cluster.coordinator.url}/console/session`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ secret: "not-the-secret" }),
    });
    expect(wrong.status).to.equal(401);
    expect(wrong.headers.get("set-cookie")).to.equal(null);
    const bearer = await fetch(consoleUrl(), { headers: { authorization: `Bearer ${secret()}` } });
    expect(bearer.status).to.equal(200);
    const apiKey = await fetch(consoleUrl(), {
      headers: { authorization: `Bearer ${cluster.secrets.apiKey}` },
    });
    expect(apiKey.status, "an API key does not open the console").to.equal(401);
  });

  it("takes the session cookie on the operator routes only with the Concord-Console header", async function () {
    const login = await fetch(`${cluster.coordinator.url}/console/session`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ secret: secret() }),
    });
    expect(login.status).to.equal(200);
    const setCookie = login.headers.get("set-cookie") ?? "";
    expect(setCookie)
      .to.match(/HttpOnly/)
      .and.to.match(/SameSite=Strict/)
      .and.to.match(/Path=\//);
    const cookie = setCookie.split(";")[0] ?? "";
    const stats = (headers: Record<string, string>) =>
      fetch(`${cluster.coordinator.url}/v1/operator/stats`, { headers });
    expect((await stats({ cookie, "concord-console": "1" })).status).to.equal(200);
    expect((await stats({ cookie })).status, "a cross-site request: no header").to.equal(401);
    const forged = `${cookie.slice(0, -4)}AAAA`;
    expect((await stats({ cookie: forged, "concord-console": "1" })).status).to.equal(401);
  });

  it("a wrong secret typed into the login page shows the refusal and no console", async function () {
    await logIn(page, "wrong-secret");
    await page.waitForSelector("#login-error:not(:empty)");
    expect(await page.textContent("#login-error")).to.match(/^HTTP 401/);
    expect(await page.locator("#view").count()).to.equal(0);
  });

  it("logs in, and a transfer made now appears in the list with its timeline", async function () {
    await logIn(page, secret());
    await page.waitForSelector("#tx-list table");
    await openAccount(cluster, "bank-a", "console-alice", 100);
    await openAccount(cluster, "bank-b", "console-bob", 100);
    const answer = await run(
      cluster,
      transferBody(["bank-a", "console-alice"], ["bank-b", "console-bob"], 7),
    );
    expect(answer.data.outcome, JSON.stringify(answer.data)).to.equal("committed");
    const txid = String(answer.data.txid);
    await page.click("#tx-filters button[type=submit]");
    const link = page.locator(`#tx-list a[href="#/tx/${txid}"]`);
    await link.waitFor();
    await link.click();
    await page.waitForSelector("#timeline svg");
    const labels = await page.locator("#timeline svg text").allTextContents();
    expect(labels).to.include.members([
      "coordinator",
      "bank-a",
      "bank-b",
      "begin",
      "decision commit",
    ]);
    expect(labels.filter((l) => l === "ack")).to.have.length(2);
    expect(await page.textContent("#tx-id")).to.equal(txid);
  });

  it("shows a reason holding HTML as text, in the list and in the transaction", async function () {
    const answer = await run(cluster, { participants: [{ name: "hostile", operations: [{}] }] });
    expect(answer.data.outcome, JSON.stringify(answer.data)).to.equal("aborted");
    const txid = String(answer.data.txid);
    await page.goto(`${consoleUrl()}#/transactions`);
    const row = page.locator("#tx-list tr", { has: page.locator(`a[href="#/tx/${txid}"]`) });
    await row.waitFor();
    expect(await row.locator(".reason").textContent()).to.include(HTML_REASON);
    expect(await page.locator("#view img, #view b").count(), "no element made of it").to.equal(0);
    await row.locator("a").click();
    await page.waitForSelector("#timeline svg");
    expect(await page.locator("dl.facts").textContent()).to.include(HTML_REASON);
    expect(await page.locator("#view img, #view b").count()).to.equal(0);
    expect(await page.title()).to.equal("Concord console");
  });

  it("lists a transaction held prepared by a failpoint, and its abort resolves it", async function () {
    await openAccount(cluster, "bank-a", "doubt-alice", 100);
    await openAccount(cluster, "bank-b", "doubt-bob", 100);
    const hold = await holdInDoubt(cluster, {
      ...transferBody(["bank-a", "doubt-alice"], ["bank-b", "doubt-bob"], 5),
      timeoutMs: 60_000,
    });
    held.push(hold.request);
    const { txid } = hold;
    await page.goto(`${consoleUrl()}#/in-doubt`);
    const abort = page.locator(`button[data-action=abort][data-txid="${txid}"]`);
    await abort.first().waitFor();
    const rows = page.locator("#in-doubt tr", { has: page.locator(`a[href="#/tx/${txid}"]`) });
    expect(await rows.count(), "prepared at both banks, and unfinished in the log").to.equal(3);
    expect(await rows.first().textContent()).to.include("undecided");
    await abort.first().click();
    await page.click("button[data-action=confirm-abort]");
    await page.waitForSelector("#action-result table, #action-result .error");
    const shown = await page.textContent("#action-result");
    expect(shown).to.include(`abort ${txid}: abort`).and.to.not.include("refused");
    await page.waitForFunction(
      (t) => !document.querySelector(`#in-doubt a[href="#/tx/${t}"]`),
      txid,
    );
    expect((await preparedInDoubt(cluster)).has(txid), "nothing held prepared").to.equal(false);
    const detail = await asOperator(cluster, `/v1/transactions/${txid}`);
    expect(detail.data).to.include({ decision: "abort", state: "aborted" });
  });

  it("shows an abort refused for a committed transaction, clearly", async function () {
    const answer = await asOperator(cluster, "/v1/transactions?limit=100");
    const first = (answer.data.transactions as { txid: string; state: string }[]).find(
      (t) => t.state === "committed",
    );
    expect(first).to.not.equal(undefined);
    const refused = await page.evaluate(async (t) => {
      const res = await fetch(`/v1/operator/transactions/${t}/abort`, {
        method: "POST",
        headers: { "concord-console": "1", "content-type": "application/json" },
        body: "{}",
      });
      return res.status;
    }, first?.txid ?? "");
    expect(refused).to.equal(409);
  });

  it("draws the live charts from the stats", async function () {
    await page.goto(`${consoleUrl()}#/charts`);
    await page.waitForSelector("#charts .chart svg path", { state: "attached" });
    expect(await page.locator("#charts .chart").count()).to.equal(5);
  });

  it("logs out: the cookie is gone and the console asks for the secret again", async function () {
    await page.goto(`${consoleUrl()}#/transactions`);
    await page.click("#logout");
    await page.waitForSelector("#login");
    const res = await page.reload();
    expect(res?.status()).to.equal(401);
  });
});
