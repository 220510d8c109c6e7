/**
 * `npm run isolation -- [options]`: starts a cluster of its own, runs the isolation workload at
 * each level and prints the anomalies the checker found beside those docs/isolation.md allows.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs, runCli, UsageError } from "./cli-args.js";
import { startCluster, stopCluster } from "./cluster/cluster.js";
import { removeOutsideData } from "./cluster/postgres.js";
import { ISOLATION_LEVELS } from "../shared/isolation.js";
import { formatAnomalyReport } from "./isolation/anomaly-report.js";
import { levelsFrom, levelTable } from "./isolation/level-table.js";
import { runWorkload, type WorkloadRun } from "./isolation/workload.js";

const USAGE = `usage: npm run isolation -- [options]

Starts a cluster of its own (two banks, in a temporary folder), runs the isolation workload at
each level (transfers, reads with and without hold, repeated reads, concurrent debits of one
customer's linked accounts) and checks the history for lost updates, fractured reads,
non-repeatable reads and write skew. Prints a table of levels against anomalies found, beside
what docs/isolation.md allows.

options:
  --levels L     comma-separated (default ${ISOLATION_LEVELS.join(",")})
  --workers N    concurrent clients (default 8)
  --steps N      requests per client (default 40)
  --seed N       the workload's seed (default 1)
  --out F        also write the table to F (Markdown)
  --json F       write every run's history and findings to F

exit status: 0 nothing beyond what the documentation allows, 1 an undocumented anomaly
(or a failure), 2 bad usage`;

runCli("isolation", USAGE, async () => {
  const { positional, flags } = parseArgs(process.argv.slice(2), {
    levels: "string",
    workers: "number",
    steps: "number",
    seed: "number",
    out: "string",
    json: "string",
    help: "boolean",
  });
  if (flags.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (positional.length > 0) throw new UsageError(`unexpected argument ${positional[0]}`);
  let levels;
  try {
    levels = levelsFrom(String(flags.levels ?? ISOLATION_LEVELS.join(",")));
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const workers = Number(flags.workers ?? 8);
  const steps = Number(flags.steps ?? 40);
  const seed = Number(flags.seed ?? 1);
  for (const [name, n] of [
    ["workers", workers],
    ["steps", steps],
  ] as const)
    if (!Number.isInteger(n) || n < 1 || n > 1000)
      throw new UsageError(`--${name} must be a whole number from 1 to 1000`);
  const dir = mkdtempSync(join(tmpdir(), "concord-isolation-"));
  const runs: WorkloadRun[] = [];
  try {
    const cluster = await startCluster({ dir, banks: 2, inventory: 0 });
    for (const level of levels) {
      process.stderr.write(`isolation: ${level}...\n`);
      const run = await runWorkload({
        cluster,
        level,
        seed,
        workers,
        steps,
        prefix: `iso-${level}`,
      });
      runs.push(run);
      process.stderr.write(formatAnomalyReport(run.result, level) + "\n");
    }
  } finally {
    await stopCluster(dir);
    removeOutsideData(dir);
    rmSync(dir, { recursive: true, force: true });
  }
  const table = levelTable(runs);
  process.stdout.write(table);
  if (flags.out) writeFileSync(String(flags.out), table);
  if (flags.json) writeFileSync(String(flags.json), JSON.stringify(runs, null, 1));
  return runs.some((r) => r.undocumented.length > 0) ? 1 : 0;
});
