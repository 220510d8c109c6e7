/**
 * Adding a participant to a running local cluster and removing one, without restarting any
 * running service: the coordinator and the participants read their files again when they change
 * (directory-files.ts). `npm run cluster -- add|remove`.
 */
import { rmSync } from "node:fs";
import { join, resolve } from "node:path";
import axios from "axios";
import pg from "pg";
import { sleep } from "../../shared/clock.js";
import { participantName } from "../../shared/config.js";
import {
  adminSecretOf,
  isBank,
  readClusterFile,
  updateClusterFile,
  writeClusterFile,
  type ApplicationName,
  type ClusterFile,
  type ParticipantEntry,
  type ProcessEntry,
} from "./cluster-file.js";
import { APPLICATIONS, planAddedParticipant, type PlanInput } from "./cluster-plan.js";
import { clusterSecrets, passwordOf, type ParticipantName } from "./cluster-secrets.js";
import { createParticipantDatabases, ensureRunning } from "./cluster.js";
import {
  removePeersFile,
  writeDirectoryFiles,
  writeParticipantsFile,
  writePeersFile,
} from "./directory-files.js";
import { initPostgres, postgresDataRoot, postgresUser } from "./postgres.js";
import { freePort, isOurProcess, stopProcess, type ProcessSpec } from "./processes.js";

const http = axios.create({ validateStatus: () => true, timeout: 5000 });
/** How long the coordinator may take to read its changed file (it polls it every second). */
const RELOAD_BOUND_MS = 15_000;

export const APPLICATION_NAMES = Object.keys(APPLICATIONS) as ApplicationName[];

/** The processes of one participant, by name: its PostgreSQL, its journal's Redis and itself. */
const processNames = (name: string) => [name, `redis-${name}`, `postgres-${name}`];

function clusterIn(dir: string): ClusterFile {
  const cluster = readClusterFile(dir);
  if (!cluster)
    throw new Error(
      `no cluster in ${dir}: start one first (npm run cluster -- start --dir ${dir})`,
    );
  return cluster;
}

export function checkApplication(application: string): ApplicationName {
  if (!(APPLICATION_NAMES as string[]).includes(application))
    throw new Error(
      `unknown application ${JSON.stringify(application)}; known: ${APPLICATION_NAMES.join(", ")}`,
    );
  return application as ApplicationName;
}

function checkNewName(cluster: ClusterFile, name: string): void {
  if (!participantName(name))
    throw new Error(
      `invalid participant name ${JSON.stringify(name)}: it must match ^[a-z][a-z0-9-]{0,31}$ and not be "coordinator"`,
    );
  if (cluster.participants.some((p) => p.name === name))
    throw new Error(`the cluster in ${cluster.dir} already has a participant named ${name}`);
  const clash = processNames(name).find((n) => cluster.processes.some((p) => p.name === n));
  if (clash) throw new Error(`the cluster in ${cluster.dir} already has a process named ${clash}`);
}

/** Services started before participants files have their counterparts in their environment. */
function checkUsesFiles(cluster: ClusterFile): void {
  const coordinator = cluster.processes.find((p) => p.name === "coordinator");
  if (coordinator && coordinator.env.CONCORD_PARTICIPANTS_FILE === undefined)
    throw new Error(
      `the cluster in ${cluster.dir} was started with its participants in the coordinator's environment (before participants files): ` +
        `stop it and start it again (npm run cluster -- stop --dir ${cluster.dir}; npm run cluster -- start --dir ${cluster.dir}), then add or remove`,
    );
}

/** The cluster with one participant more or less: its entries, processes, secrets and route. */
function withParticipants(
  cluster: ClusterFile,
  participants: ParticipantEntry[],
  processes: ProcessEntry[],
  secrets = cluster.secrets,
): ClusterFile {
  const names = new Set(participants.map((p) => p.name));
  const routes = Object.entries(cluster.coordinatorRoutes ?? {}).filter(([n]) => names.has(n));
  const next: ClusterFile = {
    ...cluster,
    participants,
    banks: participants.filter(isBank),
    // Those of the participants it has: a new one's come with it (`secrets`), a removed one's go.
    secrets: clusterSecrets(
      participants.map((p): ParticipantName => ({ name: p.name, application: p.application })),
      secrets,
    ),
    processes,
  };
  delete next.coordinatorRoutes;
  return routes.length > 0 ? { ...next, coordinatorRoutes: Object.fromEntries(routes) } : next;
}

function withoutParticipant(cluster: ClusterFile, name: string): ClusterFile {
  const gone = new Set(processNames(name));
  return withParticipants(
    cluster,
    cluster.participants.filter((p) => p.name !== name),
    cluster.processes.filter((p) => !gone.has(p.name)),
  );
}

/**
 * Whether the coordinator lets a transaction name `name` now, asked without logging anything:
 * a request naming it twice is refused as "unknown participant" or as "appears twice".
 * Undefined when the coordinator does not answer.
 */
export async function coordinatorKnows(
  cluster: ClusterFile,
  name: string,
): Promise<boolean | undefined> {
  const entry = { name, operations: [{}] };
  const res = await http
    .post(
      `${cluster.coordinator.url}/v1/transactions`,
      { participants: [entry, entry] },
      { headers: { authorization: `Bearer ${adminSecretOf(cluster, "coordinator")}` } },
    )
    .catch(() => undefined);
  const message = (res?.data as { error?: { message?: string } } | undefined)?.error?.message;
  if (res?.status !== 400 || message === undefined) return undefined;
  if (message.includes("unknown participant")) return false;
  if (message.includes("appears twice")) return true;
  return undefined;
}

/** Waits (bounded) until the coordinator has read its file: `name` known, or unknown. */
async function waitForCoordinator(cluster: ClusterFile, name: string, known: boolean) {
  const until = Date.now() + RELOAD_BOUND_MS;
  while ((await coordinatorKnows(cluster, name)) !== known) {
    if (Date.now() > until)
      throw new Error(
        `the coordinator did not ${known ? "take" : "drop"} ${name} within ${RELOAD_BOUND_MS / 1000} s of its participants file changing; see ${join(cluster.dir, "logs", "coordinator.log")}`,
      );
    await sleep(200);
  }
}

const coordinatorRuns = (cluster: ClusterFile) =>
  cluster.processes.some((p) => p.name === "coordinator" && isOurProcess(p.pid, p.marker));

export interface AddOptions {
  dir: string;
  name: string;
  application: string;
}

/**
 * Starts a new participant (its own PostgreSQL, database, role, journal Redis and secrets: a
 * participant secret and a pair secret with every other participant), records it in
 * cluster.json, then writes its peers into its own file, it into every peer's file, and last into
 * the coordinator's, and waits until the coordinator takes it. On failure everything is undone.
 */
export async function addParticipant(o: AddOptions): Promise<ClusterFile> {
  const dir = resolve(o.dir);
  const before = clusterIn(dir);
  const application = checkApplication(o.application);
  checkNewName(before, o.name);
  checkUsesFiles(before);
  const user = postgresUser();
  // What a failed add may have left (planning makes the Redis folder afresh).
  deleteData(dir, { name: o.name, postgresDataDir: join(postgresDataRoot(dir, user), o.name) });
  const { entry, specs, secrets } = await planAdded(before, { name: o.name, application }, user);
  writeClusterFile(
    dir,
    withParticipants(before, [...before.participants, entry], before.processes, secrets),
  );
  try {
    const added = clusterIn(dir);
    writePeersFile(added, o.name);
    const [postgres, redis, participant] = specs as [ProcessSpec, ProcessSpec, ProcessSpec];
    const record = (e: ProcessEntry) => {
      updateClusterFile(dir, (f) => ({
        ...f,
        processes: [...f.processes.filter((p) => p.name !== e.name), e],
      }));
    };
    initPostgres(postgres.args[1] as string, passwordOf(secrets, postgres.name, "admin"), user);
    await Promise.all([postgres, redis].map((s) => ensureRunning(s, undefined, added, record)));
    createParticipantDatabases([entry], secrets);
    await ensureRunning(participant, undefined, added, record);
    // Its peers know it before the coordinator can put it in a transaction.
    for (const p of before.participants) writePeersFile(added, p.name);
    writeParticipantsFile(added);
    if (coordinatorRuns(added)) await waitForCoordinator(added, o.name, true);
  } catch (err) {
    await undoAdd(dir, entry).catch(() => undefined);
    throw err;
  }
  return clusterIn(dir);
}

async function planAdded(
  cluster: ClusterFile,
  participant: ParticipantName,
  user: { uid: number; gid: number } | undefined,
) {
  const participants = [
    ...cluster.participants.map((p): ParticipantName => ({
      name: p.name,
      application: p.application,
    })),
    participant,
  ];
  const secrets = clusterSecrets(participants, cluster.secrets);
  const taken = new Set(cluster.processes.map((p) => p.port));
  const input: PlanInput = {
    dir: cluster.dir,
    user,
    participants,
    secrets,
    env: cluster.extraEnv,
    portFor: async () => {
      for (;;) {
        const port = await freePort();
        if (!taken.has(port)) {
          taken.add(port);
          return port;
        }
      }
    },
  };
  const planned = await planAddedParticipant(input, participant, cluster.coordinator.url);
  return { ...planned, secrets };
}

/** Stops what an add started, forgets the participant and writes every file without it. */
async function undoAdd(dir: string, entry: ParticipantEntry): Promise<void> {
  const cluster = clusterIn(dir);
  const restored = withoutParticipant(cluster, entry.name);
  writeClusterFile(dir, restored);
  writeDirectoryFiles(restored);
  await stopProcesses(cluster, entry.name);
  removePeersFile(dir, entry.name);
  deleteData(dir, entry);
}

async function stopProcesses(cluster: ClusterFile, name: string): Promise<void> {
  for (const processName of processNames(name)) {
    const p = cluster.processes.find((x) => x.name === processName);
    if (p) await stopProcess(p.pid, p.marker, p.stopSignal);
  }
}

/** A participant's PostgreSQL data and its journal's Redis folder (its log file stays). */
function deleteData(dir: string, entry: Pick<ParticipantEntry, "name" | "postgresDataDir">): void {
  rmSync(entry.postgresDataDir, { recursive: true, force: true });
  rmSync(join(dir, "redis", entry.name), { recursive: true, force: true });
}

/**
 * What still holds `name`: the coordinator's unfinished transactions naming it, and the
 * transactions prepared at its PostgreSQL. Throws when either cannot be asked.
 */
async function unfinishedAt(cluster: ClusterFile, entry: ParticipantEntry): Promise<string[]> {
  const limit = 500;
  const res = await http
    .get<{ transactions?: { txid: string; participants: string[] }[] }>(
      `${cluster.coordinator.url}/v1/transactions?state=active&limit=${limit}`,
      { headers: { authorization: `Bearer ${adminSecretOf(cluster, "coordinator")}` } },
    )
    .catch(() => undefined);
  const active = res?.status === 200 ? res.data.transactions : undefined;
  if (!Array.isArray(active))
    throw new Error(
      `cannot ask the coordinator for its unfinished transactions (${res?.status ?? "no answer"}): is the cluster running? (npm run cluster -- status --dir ${cluster.dir})`,
    );
  if (active.length >= limit)
    throw new Error(
      `the coordinator has ${limit} or more unfinished transactions: try again later`,
    );
  const naming = active.filter((t) => t.participants.includes(entry.name)).map((t) => t.txid);
  const prepared = await preparedAt(entry);
  return [
    ...(naming.length > 0
      ? [`${naming.length} unfinished at the coordinator (${naming.slice(0, 5).join(", ")})`]
      : []),
    ...(prepared.length > 0
      ? [`${prepared.length} prepared at its PostgreSQL (${prepared.slice(0, 5).join(", ")})`]
      : []),
  ];
}

async function preparedAt(entry: ParticipantEntry): Promise<string[]> {
  const client = new pg.Client({
    connectionString: entry.adminDatabaseUrl,
    connectionTimeoutMillis: 5000,
  });
  try {
    await client.connect();
    const { rows } = await client.query<{ gid: string }>("SELECT gid FROM pg_prepared_xacts");
    return rows.map((r) => r.gid);
  } catch (err) {
    throw new Error(
      `cannot ask ${entry.name}'s PostgreSQL for its prepared transactions (${(err as Error).message}): is the cluster running?`,
      { cause: err },
    );
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function refuseIfBusy(cluster: ClusterFile, entry: ParticipantEntry): Promise<void> {
  const busy = await unfinishedAt(cluster, entry);
  if (busy.length > 0)
    throw new Error(
      `${entry.name} is still in transactions: ${busy.join("; ")}. Nothing was changed; try again when they have finished`,
    );
}

/**
 * Removes a participant that is in no unfinished transaction: first from the coordinator's file
 * (no new transaction can name it once the coordinator has read it), checked again after that,
 * then from every peer's file; stops its processes, deletes its data and forgets it.
 */
export async function removeParticipant(o: { dir: string; name: string }): Promise<ClusterFile> {
  const dir = resolve(o.dir);
  const before = clusterIn(dir);
  const entry = before.participants.find((p) => p.name === o.name);
  if (!entry)
    throw new Error(
      `no participant ${JSON.stringify(o.name)} in ${dir}; participants: ${before.participants.map((p) => p.name).join(", ") || "none"}`,
    );
  checkUsesFiles(before);
  if ((await coordinatorKnows(before, o.name)) === undefined)
    throw new Error(
      `the coordinator at ${before.coordinator.url} does not answer: start the cluster first (npm run cluster -- start --dir ${dir})`,
    );
  await refuseIfBusy(before, entry);
  const without = withoutParticipant(before, o.name);
  writeParticipantsFile(without);
  try {
    await waitForCoordinator(without, o.name, false);
    // A request the coordinator took just before it read the file is logged by now.
    await sleep(1000);
    await refuseIfBusy(before, entry);
  } catch (err) {
    writeParticipantsFile(clusterIn(dir));
    throw err;
  }
  for (const p of without.participants) writePeersFile(without, p.name);
  await stopProcesses(before, o.name);
  removePeersFile(dir, o.name);
  deleteData(dir, entry);
  return updateClusterFile(dir, (f) => withoutParticipant(f, o.name));
}
