/**
 * The web console's screenshots in docs/ (README "The web console"): starts a cluster of its
 * own (scripts/console/demo-world.ts), runs transfers that commit and abort (and one refused by
 * a participant whose reason is HTML), holds one transaction in doubt with a failpoint, and
 * photographs each view in Debian's chromium. `npm run screenshots [-- --out docs]`.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type Page } from "playwright-core";
import { sleep } from "../shared/clock.js";
import { startCluster, stopCluster } from "./cluster/cluster.js";
import { operatorSecretOf, type ClusterFile } from "./cluster/cluster-file.js";
import { removeOutsideData } from "./cluster/postgres.js";
import { CHROMIUM, CHROMIUM_ARGS } from "./console/browser.js";
import {
  asOperator,
  CONSOLE_CLUSTER_ENV,
  holdInDoubt,
  openAccount,
  run,
  transferBody,
} from "./console/demo-world.js";
import { startHostileParticipant } from "./console/hostile-participant.js";
import { parseArgs, runCli } from "./cli-args.js";

const BANKS = ["bank-a", "bank-b"];

/** Transfers between a few accounts until `stop` says so: most commit, some lack the funds. */
async function traffic(cluster: ClusterFile, stop: () => boolean): Promise<number> {
  for (const bank of BANKS)
    for (let i = 0; i < 4; i++) await openAccount(cluster, bank, `shot-${i}`, 500);
  let sent = 0;
  const worker = async (w: number) => {
    while (!stop()) {
      const from = BANKS[(sent + w) % 2] ?? "bank-a";
      const to = BANKS[(sent + w + 1) % 2] ?? "bank-b";
      const amount = sent % 7 === 0 ? 10_000 : 1 + (sent % 9);
      sent++;
      await run(cluster, transferBody([from, `shot-${sent % 4}`], [to, `shot-${w % 4}`], amount));
      if (sent % 25 === 0)
        await run(cluster, { participants: [{ name: "hostile", operations: [{}] }] });
      await sleep(40);
    }
  };
  await Promise.all([0, 1, 2].map(worker));
  return sent;
}

async function shoot(page: Page, url: string, ready: string, path: string): Promise<void> {
  await page.goto(url);
  await page.waitForSelector(ready, { state: "attached" });
  await sleep(300);
  await page.screenshot({ path, fullPage: false });
  process.stdout.write(`wrote ${path}\n`);
}

async function photograph(cluster: ClusterFile, page: Page, out: string): Promise<void> {
  const base = `${cluster.coordinator.url}/console`;
  await page.goto(base);
  await page.fill("#secret", operatorSecretOf(cluster, "coordinator"));
  await page.click("#login button[type=submit]");
  await page.waitForSelector("#tx-list table");
  // Live charts first: they need a couple of minutes of snapshots while the traffic runs.
  await page.goto(`${base}#/charts`);
  await sleep(100_000);
  await page.screenshot({ path: join(out, "console-charts.png"), fullPage: true });
  process.stdout.write(`wrote ${join(out, "console-charts.png")}\n`);
  await shoot(
    page,
    `${base}#/transactions`,
    "#tx-list table",
    join(out, "console-transactions.png"),
  );
  const list = await asOperator(cluster, "/v1/transactions?state=committed&limit=5");
  const txid = (list.data.transactions as { txid: string }[])[0]?.txid ?? "";
  await shoot(page, `${base}#/tx/${txid}`, "#timeline svg", join(out, "console-timeline.png"));
}

const USAGE = `usage: npm run screenshots [-- --out <folder>]   (default docs)`;

async function main(argv: string[]): Promise<number> {
  const { flags } = parseArgs(argv, { out: "string" });
  const out = typeof flags.out === "string" ? flags.out : "docs";
  const dir = mkdtempSync(join(tmpdir(), "concord-screenshots-"));
  const profile = mkdtempSync(join(tmpdir(), "concord-screenshots-browser-"));
  let stopped = false;
  try {
    const cluster = await startCluster({ dir, banks: 2, inventory: 0, env: CONSOLE_CLUSTER_ENV });
    const hostile = await startHostileParticipant(dir);
    const context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      args: CHROMIUM_ARGS,
      viewport: { width: 1280, height: 760 },
    });
    const running = traffic(cluster, () => stopped);
    try {
      const page = context.pages()[0] ?? (await context.newPage());
      await photograph(cluster, page, out);
      stopped = true;
      process.stdout.write(`${await running} transfers sent\n`);
      await openAccount(cluster, "bank-a", "held-alice", 100);
      await openAccount(cluster, "bank-b", "held-bob", 100);
      const body = transferBody(["bank-a", "held-alice"], ["bank-b", "held-bob"], 25);
      const held = await holdInDoubt(cluster, { ...body, timeoutMs: 60_000 });
      const base = `${cluster.coordinator.url}/console`;
      await shoot(
        page,
        `${base}#/in-doubt`,
        "button[data-action=abort]",
        join(out, "console-in-doubt.png"),
      );
      held.request.abort();
    } finally {
      stopped = true;
      await running.catch(() => 0);
      await context.close();
      await hostile.close();
    }
  } finally {
    await stopCluster(dir);
    removeOutsideData(dir);
    rmSync(dir, { recursive: true, force: true });
    rmSync(profile, { recursive: true, force: true });
  }
  return 0;
}

runCli("console-screenshots", USAGE, () => main(process.argv.slice(2)));
