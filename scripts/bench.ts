/**
 * `npm run bench [-- --quick]`: starts its own cluster in .concord/bench and compares, on the same
 * data, the ceiling (independent local commits), the protocol floor (2PC from one process, no
 * HTTP), Concord over HTTP and coordination alone. Results go to bench/results/latest.{json,md,svg}.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs, runCli, UsageError } from "./cli-args.js";
import { benchMarkdown } from "./bench/report.js";
import { DEFAULT_BENCH_DIR, runBench } from "./bench/runner.js";
import { benchSvg } from "./bench/svg.js";
import type { RowKind } from "./bench/drivers.js";
import { memoryMillionMarkdown, runMemoryMillion } from "./bench/memory-million.js";

const ROWS: RowKind[] = ["ceiling", "floor", "concord", "coordination"];
/** Groups that are not rows of the matrix but can be chosen with --rows like them. */
const SECTIONS = ["contention"] as const;
const USAGE = `usage: npm run bench [-- --quick] [--rows ${[...ROWS, ...SECTIONS].join(",")}] [--no-extras] [--dir ${DEFAULT_BENCH_DIR}] [--out bench/results]

  --quick   concurrencies 1, 8, 32 with 2 participants, about 4 s per cell (about 2 minutes)
            (default: concurrencies 1, 8, 32, 64; 2, 4 and 8 participants for Concord and
            coordination only; about 10 s per cell)
  --rows    which rows to run (default: all); "contention" is the hot-pair and Zipf section
  --no-extras  skip the memory run and the recovery measurement (1,000 and 10,000
            unacknowledged transactions), which follow the coordination-only row
  --dir     the cluster's state folder; it is stopped and wiped first
  --out     where latest.json, latest.md and latest.svg are written
  --memory-million  only Redis memory over 1,000,000 transactions with the archive on, and
            bytes per in-flight transaction (about 10-20 minutes); writes memory-million.json
            and .md in --out. --transactions N changes the count; SIGUSR2 to the bench
            process ends the run early and reports what ran`;

async function main(): Promise<number> {
  const { positional, flags } = parseArgs(process.argv.slice(2), {
    quick: "boolean",
    rows: "string",
    dir: "string",
    out: "string",
    "no-extras": "boolean",
    "memory-million": "boolean",
    transactions: "number",
  });
  if (positional.length > 0) throw new UsageError(`unexpected argument ${positional[0]}`);
  const out = resolve(typeof flags.out === "string" ? flags.out : join("bench", "results"));
  if (flags["memory-million"] === true) return memoryMillion(flags, out);
  const known = [...ROWS, ...SECTIONS] as string[];
  const chosen =
    typeof flags.rows === "string" ? flags.rows.split(",").map((r) => r.trim()) : known;
  for (const r of chosen)
    if (!known.includes(r))
      throw new UsageError(`--rows: unknown row ${r}; known: ${known.join(", ")}`);
  const rows = chosen.filter((r): r is RowKind => ROWS.includes(r as RowKind));
  const report = await runBench({
    quick: flags.quick === true,
    dir: typeof flags.dir === "string" ? flags.dir : DEFAULT_BENCH_DIR,
    rows,
    contention: chosen.includes("contention"),
    extras: flags["no-extras"] !== true,
    log: (line) => process.stdout.write(`${line}\n`),
  });
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, "latest.json"), `${JSON.stringify(report, null, 2)}\n`);
  const markdown = benchMarkdown(report);
  writeFileSync(join(out, "latest.md"), markdown);
  writeFileSync(join(out, "latest.svg"), benchSvg(report));
  process.stdout.write(
    `\n${markdown}\nwrote ${join(out, "latest.json")}, latest.md and latest.svg in ${report.wallSeconds.toFixed(0)} s\n`,
  );
  return report.cells.some((c) => c.transactions === 0) ? 1 : 0;
}

async function memoryMillion(
  flags: Record<string, string | number | boolean>,
  out: string,
): Promise<number> {
  const count = typeof flags.transactions === "number" ? flags.transactions : 1_000_000;
  if (!Number.isInteger(count) || count < 1000)
    throw new UsageError("--transactions must be a whole number from 1000");
  const report = await runMemoryMillion({
    dir: typeof flags.dir === "string" ? flags.dir : DEFAULT_BENCH_DIR,
    transactions: count,
    concurrency: 32,
    archiveAfterSeconds: 10,
    log: (line) => process.stdout.write(`${line}\n`),
  });
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, "memory-million.json"), `${JSON.stringify(report, null, 2)}\n`);
  const markdown = memoryMillionMarkdown(report);
  writeFileSync(join(out, "memory-million.md"), markdown);
  process.stdout.write(`\n${markdown}\nwrote ${join(out, "memory-million.json")} and .md\n`);
  return report.transactions >= count ? 0 : 1;
}

runCli("bench", USAGE, main);
