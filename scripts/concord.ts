/**
 * `npm run concord -- <command>`: the operator CLI, over the coordinator's operator API
 * (coordinator/operator-routes.ts) and its transaction list. Human tables by default, `--json`
 * for scripts (exactly the API's answer). Exit 0 done, 1 the coordinator refused or could not
 * be reached (its message), 2 the command line is wrong (what to fix).
 */
import { parseArgs, runCli, UsageError } from "./cli-args.js";
import { ApiRefusal } from "./concord/api-client.js";
import { COMMANDS, findCommand } from "./concord/commands.js";
import { resolveConnection } from "./concord/connection.js";

const USAGE = `usage: npm run concord -- <command> [options]

commands:
  tx list [--state S] [--participant P] [--reason R] [--since T] [--until T] [--limit N]
          [--cursor C]
                      transactions, newest first, from Redis's window and the archive
                      (GET /v1/transactions); --since/--until are ISO times of creation
  tx show <txid>      one transaction: its record, participants' votes and acks, its events
  tx abort <txid>     abort an undecided transaction through the decision register, then tell
                      its participants; refused (409) if the register says commit
  tx retry <txid>     send the register's decision again to participants that did not
                      acknowledge it (a decided, unfinished transaction)
  prepared            what is in doubt: each participant's prepared transactions with what the
                      log says of each, and the log's unfinished transactions
  stats               counters: outcomes, abort reasons, retries, in flight, in doubt, latency

options:
  --json              print the API's answer as JSON instead of a table
  --url U             the coordinator (default: CONCORD_URL, else the local cluster's)
  --dir D             the local cluster's state folder (default .concord/cluster)
  --help              this text

The operator secret comes from CONCORD_OPERATOR_SECRET, else from the local cluster's file.
Exit codes: 0 done, 1 refused by the coordinator or no answer (its message), 2 a wrong command line.`;

runCli("concord", USAGE, async () => {
  const { positional, flags } = parseArgs(process.argv.slice(2), {
    json: "boolean",
    url: "string",
    dir: "string",
    help: "boolean",
    state: "string",
    participant: "string",
    reason: "string",
    limit: "number",
    cursor: "string",
    since: "string",
    until: "string",
  });
  if (flags.help === true) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const { command, args } = findCommand(positional);
  const own = new Set(["json", "url", "dir", "help", ...command.flags]);
  const stray = Object.keys(flags).find((f) => !own.has(f));
  if (stray !== undefined) {
    const owner = COMMANDS.find((c) => c.flags.includes(stray));
    throw new UsageError(
      `--${stray} is not an option of ${command.words.join(" ")}${owner ? ` (it is for ${owner.words.join(" ")})` : ""}`,
    );
  }
  const connection = resolveConnection(
    {
      url: typeof flags.url === "string" ? flags.url : undefined,
      dir: typeof flags.dir === "string" ? flags.dir : undefined,
    },
    process.env,
  );
  try {
    const { answer, text } = await command.run(connection, args, flags);
    process.stdout.write(`${flags.json === true ? JSON.stringify(answer, null, 2) : text}\n`);
    return 0;
  } catch (err) {
    // With --json a script still gets the refusal's body to read.
    if (err instanceof ApiRefusal && flags.json === true)
      process.stdout.write(`${JSON.stringify(err.body, null, 2)}\n`);
    throw err;
  }
});
