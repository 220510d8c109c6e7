/**
 * `npm run verify -- [--dir D] [--client-record F] [--json|--markdown]`: checks invariants I1–I7 of
 * a cluster, and every participant's application's own invariant checks.
 */
import { parseArgs, runCli, UsageError } from "./cli-args.js";
import { formatMarkdown, formatText } from "./checker/report-format.js";
import { NoClusterError, verifyCluster } from "./checker/verify.js";
import { DEFAULT_CLUSTER_DIR } from "./cluster/cluster.js";

const USAGE = `usage: npm run verify -- [options]

Reads every participant's PostgreSQL and the coordinator's log and checks the invariants of
docs/design.md §5: atomicity, conservation, no overdraft, durability, agreement, liveness (on
the outcome rows and prepared transactions every participant has, whatever its application).
Then asks every participant for its application's own checks (GET /v1/invariants: a bank's
balances and ledger, an inventory's stock...), one entry each in the report, and checks I7:
each conserved quantity (money) summed over all participants, present equals entered.
Run it when the cluster is at rest: participants are read one snapshot each.

options:
  --dir D             cluster state folder (default ${DEFAULT_CLUSTER_DIR})
  --client-record F   JSON Lines of what clients were told: {"txid", "outcome"} per line
  --json              print the report as JSON
  --markdown          print the report as Markdown

exit status: 0 every invariant holds, 1 one is violated (or the cluster could not be read),
2 bad usage or no cluster in --dir`;

runCli("verify", USAGE, async () => {
  const { positional, flags } = parseArgs(process.argv.slice(2), {
    dir: "string",
    "client-record": "string",
    json: "boolean",
    markdown: "boolean",
    help: "boolean",
  });
  if (flags.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (positional.length > 0) throw new UsageError(`unexpected argument ${positional[0]}`);
  if (flags.json && flags.markdown) throw new UsageError("choose one of --json and --markdown");
  const dir = String(flags.dir ?? DEFAULT_CLUSTER_DIR);
  const clientRecordFile =
    flags["client-record"] === undefined ? undefined : String(flags["client-record"]);
  let report;
  try {
    report = await verifyCluster(dir, clientRecordFile === undefined ? {} : { clientRecordFile });
  } catch (err) {
    if (!(err instanceof NoClusterError)) throw err;
    process.stderr.write(`verify: ${err.message}\n`);
    return 2;
  }
  if (flags.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  else
    process.stdout.write(
      flags.markdown ? formatMarkdown(report) : formatText(report, `verify ${dir}`),
    );
  return report.ok ? 0 : 1;
});
