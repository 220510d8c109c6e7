/** `npm run chaos -- --seed S --duration SECONDS [--faults kill,pause,failpoint,network]` */
import { parseArgs, runCli, UsageError } from "./cli-args.js";
import { chaosSummary } from "./chaos/report.js";
import { runChaos } from "./chaos/runner.js";
import { FAULT_KINDS, type FaultKind } from "./chaos/schedule.js";

const USAGE = `usage: npm run chaos -- --seed S --duration SECONDS [options]

  --seed S            integer; the same seed gives the same fault schedule
  --duration SECONDS  how long the workload runs under faults (10 to 3600)
  --faults LIST       comma-separated fault kinds (default all): ${FAULT_KINDS.join(", ")}
  --banks N           banks (default 3)
  --inventory N       inventory participants besides the banks (default 1; 0 for banks only):
                      the checker holds them to their own invariants too
  --concurrency C     requests in flight: transfers, and orders when there is an inventory (default 8)
  --dir D             state folder, wiped first (default .concord/chaos)
  --keep-running      leave the cluster running afterwards

Writes <dir>/chaos-report.json and chaos-report.md; exits 1 on any violation.`;

runCli("chaos", USAGE, async () => {
  const { positional, flags } = parseArgs(process.argv.slice(2), {
    seed: "number",
    duration: "number",
    faults: "string",
    banks: "number",
    inventory: "number",
    concurrency: "number",
    dir: "string",
    "keep-running": "boolean",
  });
  if (positional.length > 0) throw new UsageError(`unexpected argument ${positional[0]}`);
  if (flags.seed === undefined || !Number.isInteger(flags.seed))
    throw new UsageError("--seed must be an integer");
  const duration = Number(flags.duration);
  if (!Number.isInteger(duration) || duration < 10 || duration > 3600)
    throw new UsageError("--duration must be an integer number of seconds from 10 to 3600");
  const kinds = String(flags.faults ?? FAULT_KINDS.join(","))
    .split(",")
    .map((k) => k.trim())
    .filter(Boolean);
  const unknown = kinds.filter((k) => !(FAULT_KINDS as readonly string[]).includes(k));
  if (unknown.length > 0 || kinds.length === 0)
    throw new UsageError(
      `--faults: unknown kind ${unknown.join(", ") || "(empty)"}; known: ${FAULT_KINDS.join(", ")}`,
    );
  const banks = Number(flags.banks ?? 3);
  if (!Number.isInteger(banks) || banks < 2 || banks > 8)
    throw new UsageError("--banks must be an integer from 2 to 8");
  const inventory = Number(flags.inventory ?? 1);
  if (!Number.isInteger(inventory) || inventory < 0 || inventory > 4)
    throw new UsageError("--inventory must be an integer from 0 to 4");
  const concurrency = Number(flags.concurrency ?? 8);
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 64)
    throw new UsageError("--concurrency must be an integer from 1 to 64");
  const dir = String(flags.dir ?? ".concord/chaos");
  const report = await runChaos({
    seed: Number(flags.seed),
    durationSeconds: duration,
    faultKinds: kinds as FaultKind[],
    banks,
    inventory,
    concurrency,
    dir,
    keepRunning: Boolean(flags["keep-running"]),
    log: (l) => process.stdout.write(`${l}\n`),
  });
  process.stdout.write(
    `\n${chaosSummary(report)}\n\nreport: ${dir}/chaos-report.json and ${dir}/chaos-report.md\n`,
  );
  return report.ok ? 0 : 1;
});
