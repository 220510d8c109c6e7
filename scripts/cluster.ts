/**
 * `npm run cluster -- start|stop|status [--banks N] [--inventory N | --no-inventory] [--dir D]`,
 * `add <name> --application bank|inventory [--dir D]`, `remove <name> [--dir D]`.
 */
import {
  clusterStatus,
  DEFAULT_CLUSTER_DIR,
  startCluster,
  stopCluster,
} from "./cluster/cluster.js";
import { clusterFilePath, readClusterFile } from "./cluster/cluster-file.js";
import { addParticipant, APPLICATION_NAMES, removeParticipant } from "./cluster/membership.js";
import { parseArgs, runCli, UsageError } from "./cli-args.js";

const USAGE = `usage: npm run cluster -- <command> [options]

commands:
  start    start (or restart what is not running of) a local cluster
  stop     stop every process the cluster in --dir started
  status   show each process: running, healthy, pid, port
  add <name> --application ${APPLICATION_NAMES.join("|")}
           start a new participant in the running cluster (its own PostgreSQL, Redis,
           database, role and secrets) and write it into the coordinator's participants file
           and every peer's peers file; nothing running is restarted
  remove <name>
           take a participant out of the running cluster: refused while it is in an
           unfinished transaction; else it leaves the coordinator's and every peer's file, its
           processes stop, and its data (PostgreSQL and Redis folders) is deleted; its log stays
           in <dir>/logs

options:
  --banks N        number of banks for start (default 3); a start on a folder that holds a
                   cluster keeps the number it has unless given
  --inventory N    number of inventory participants for start (default 1, named inventory;
                   with more: inventory-a, inventory-b, ...); a start on a folder that holds a
                   cluster keeps the number it has unless given
  --no-inventory   banks only (the same as --inventory 0)
  --application A  what a participant added with add runs: ${APPLICATION_NAMES.join(" or ")}
  --dir D          state folder (default ${DEFAULT_CLUSTER_DIR})

The coordinator reads its participants from <dir>/participants.json and each participant its
peers from <dir>/peers/<name>.json, both read again when they change.`;

runCli("cluster", USAGE, async () => {
  const { positional, flags } = parseArgs(process.argv.slice(2), {
    banks: "number",
    inventory: "number",
    "no-inventory": "boolean",
    application: "string",
    dir: "string",
    help: "boolean",
  });
  if (flags.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const [command, ...args] = positional;
  const takesName = command === "add" || command === "remove";
  const extra = takesName ? args.slice(1) : args;
  if (extra.length > 0) throw new UsageError(`unexpected argument ${extra[0]}`);
  if (flags.application !== undefined && command !== "add")
    throw new UsageError("--application is for add only");
  const dir = String(flags.dir ?? DEFAULT_CLUSTER_DIR);
  switch (command) {
    case "add":
    case "remove":
      return membership(command, args[0], flags, dir);
    case "start": {
      const file = await startCluster({
        dir,
        ...(flags.banks !== undefined ? { banks: Number(flags.banks) } : {}),
        ...inventoryOption(flags, dir),
      });
      process.stdout.write(`cluster running; description in ${clusterFilePath(file.dir)}\n`);
      process.stdout.write(`coordinator  ${file.coordinator.url}\n`);
      for (const p of file.participants)
        process.stdout.write(
          `${p.name.padEnd(12)} ${p.participantUrl}  (${p.application}; PostgreSQL on 127.0.0.1:${p.postgresPort})\n`,
        );
      return 0;
    }
    case "stop": {
      const results = await stopCluster(dir);
      if (results.length === 0) process.stdout.write(`no cluster in ${dir}\n`);
      for (const r of results) process.stdout.write(`${r.name.padEnd(20)} ${r.result}\n`);
      return 0;
    }
    case "status": {
      const { file, processes } = await clusterStatus(dir);
      if (!file) {
        process.stdout.write(`no cluster in ${dir}\n`);
        return 1;
      }
      process.stdout.write(
        `${"name".padEnd(20)} ${"role".padEnd(12)} ${"pid".padEnd(8)} ${"port".padEnd(6)} state\n`,
      );
      for (const p of processes) {
        const state = p.healthy ? "healthy" : p.running ? "running, not answering" : "not running";
        process.stdout.write(
          `${p.name.padEnd(20)} ${p.role.padEnd(12)} ${String(p.pid).padEnd(8)} ${String(p.port).padEnd(6)} ${state}\n`,
        );
      }
      return processes.every((p) => p.healthy) ? 0 : 1;
    }
    case undefined:
      throw new UsageError("missing command");
    default:
      throw new UsageError(`unknown command ${JSON.stringify(command)}`);
  }
});

async function membership(
  command: "add" | "remove",
  name: string | undefined,
  flags: Record<string, string | number | boolean>,
  dir: string,
): Promise<number> {
  if (name === undefined) throw new UsageError(`${command} needs the participant's name`);
  for (const f of ["banks", "inventory", "no-inventory"])
    if (flags[f] !== undefined) throw new UsageError(`--${f} is for start only`);
  if (command === "remove") {
    await removeParticipant({ dir, name });
    process.stdout.write(
      `${name} removed: out of the coordinator's and every peer's file, stopped, its data deleted\n`,
    );
    return 0;
  }
  if (flags.application === undefined)
    throw new UsageError(`add needs --application ${APPLICATION_NAMES.join("|")}`);
  const file = await addParticipant({ dir, name, application: String(flags.application) });
  const p = file.participants.find((x) => x.name === name);
  process.stdout.write(
    `${name} added (${p?.application ?? ""}) at ${p?.participantUrl ?? ""}; PostgreSQL on 127.0.0.1:${p?.postgresPort ?? ""}; written into the coordinator's and every peer's file\n`,
  );
  return 0;
}

/** The number of inventory participants to start, or undefined: keep the folder's cluster's. */
function inventoryOption(
  flags: Record<string, string | number | boolean>,
  dir: string,
): { inventory?: number } {
  if (flags["no-inventory"] === true) {
    if (flags.inventory !== undefined && flags.inventory !== 0)
      throw new UsageError("choose one of --inventory N and --no-inventory");
    return { inventory: 0 };
  }
  if (flags.inventory !== undefined) return { inventory: Number(flags.inventory) };
  return readClusterFile(dir) ? {} : { inventory: 1 };
}
