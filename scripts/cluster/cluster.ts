/**
 * The local cluster: a private PostgreSQL and Redis per participant (banks, and an inventory by
 * default from the command line), a Redis for the coordinator's log, the coordinator and the
 * participants, all on free loopback ports, described in
 * `<dir>/cluster.json`. Starting on an existing folder reuses its data, ports and secrets, and
 * starts only what is not running: that is how a restart after a crash is done.
 */
import { chmodSync, chownSync, mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import axios from "axios";
import { sleep } from "../../shared/clock.js";
import { ADMIN_REDIS_USER } from "../../shared/redis-acl.js";
import {
  readClusterFile,
  readProcessList,
  writeClusterFile,
  type ClusterFile,
  type ClusterSecrets,
  type ParticipantEntry,
  type ProcessEntry,
} from "./cluster-file.js";
import { describeCluster, planCluster } from "./cluster-plan.js";
import { writeDirectoryFiles } from "./directory-files.js";
import { clusterSecrets, passwordOf, type ParticipantName } from "./cluster-secrets.js";
import {
  ensureParticipantDatabase,
  participantDatabaseName,
  initPostgres,
  postgresReady,
  postgresUser,
} from "./postgres.js";
import {
  freePort,
  isOurProcess,
  portIsFree,
  spawnDetached,
  stopProcess,
  waitUntil,
  type ProcessSpec,
} from "./processes.js";
import { redisReady, redisUrl } from "./redis.js";

export const DEFAULT_CLUSTER_DIR = ".concord/cluster";
const START_TIMEOUT_MS = 60_000;

export interface StartOptions {
  dir: string;
  /** Banks, named bank-a, bank-b, ...; undefined keeps what a cluster already in `dir` has (3 for a new one). */
  banks?: number;
  /**
   * Inventory participants besides the banks: `inventory` for one, `inventory-a`, ... for more.
   * Undefined keeps what a cluster already in `dir` has (none for a new one).
   */
  inventory?: number;
  /** Extra environment for the coordinator and participants (tests shorten timeouts with it). */
  env?: Record<string, string>;
}

export function bankNames(count: number): string[] {
  if (!Number.isInteger(count) || count < 1 || count > 26)
    throw new Error(`--banks must be an integer from 1 to 26, got ${count}`);
  return Array.from({ length: count }, (_, i) => `bank-${String.fromCharCode(97 + i)}`);
}

export function inventoryNames(count: number): string[] {
  if (!Number.isInteger(count) || count < 0 || count > 26)
    throw new Error(`--inventory must be an integer from 0 to 26, got ${count}`);
  if (count === 1) return ["inventory"];
  return Array.from({ length: count }, (_, i) => `inventory-${String.fromCharCode(97 + i)}`);
}

/**
 * The participants of a start, banks first: those of the cluster already in the folder when the
 * counts are the same (their names are kept), else named afresh.
 */
export function participantNames(
  options: Pick<StartOptions, "banks" | "inventory">,
  previous: Pick<ClusterFile, "participants"> | undefined,
): ParticipantName[] {
  const before = (application: string) =>
    (previous?.participants ?? [])
      .filter((p) => p.application === application)
      .map((p): ParticipantName => ({ name: p.name, application: p.application }));
  const oldBanks = before("bank");
  const oldInventory = before("inventory");
  const bankCount = options.banks ?? (previous ? oldBanks.length : 3);
  const banks =
    previous && bankCount === oldBanks.length
      ? oldBanks
      : bankNames(bankCount).map((name): ParticipantName => ({ name, application: "bank" }));
  const count = options.inventory ?? oldInventory.length;
  const inventory =
    previous && count === oldInventory.length
      ? oldInventory
      : inventoryNames(count).map((name): ParticipantName => ({ name, application: "inventory" }));
  return [...banks, ...inventory];
}

/**
 * Keeps a port from the last run when it is still free, so URLs stay stable across restarts.
 * Ports are not held between picking and use, so the kernel may offer the same free port
 * twice: `taken` makes every pick of one start distinct.
 */
async function pickPort(
  previous: number | undefined,
  taken: Set<number>,
  mustKeep: boolean,
): Promise<number> {
  // A process restarted while others run must come back on its old port: they know it by URL.
  // Right after a kill the port can be busy for a moment, so wait for it rather than move.
  const until = Date.now() + (mustKeep ? 15_000 : 0);
  while (previous && !taken.has(previous)) {
    if (await portIsFree(previous)) {
      taken.add(previous);
      return previous;
    }
    if (Date.now() >= until) break;
    await sleep(100);
  }
  if (mustKeep && previous)
    throw new Error(
      `port ${previous} is still in use; cannot restart on it while the rest of the cluster runs`,
    );
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = await freePort();
    if (!taken.has(port)) {
      taken.add(port);
      return port;
    }
  }
  throw new Error("could not find a free loopback port");
}

/**
 * The state folder holds every secret, the data, the AOF files and the logs: it is closed to
 * other users. When PostgreSQL runs as its own user (we are root), that user may only pass
 * through it (group `postgres`, mode 0710) to reach its data folder, which is its alone.
 */
function closeStateFolder(dir: string, pgUser: { uid: number; gid: number } | undefined): void {
  mkdirSync(join(dir, "logs"), { recursive: true, mode: 0o700 });
  chmodSync(join(dir, "logs"), 0o700);
  if (pgUser) {
    chownSync(dir, 0, pgUser.gid);
    chmodSync(dir, 0o710);
  } else {
    chmodSync(dir, 0o700);
  }
}

export async function startCluster(options: StartOptions): Promise<ClusterFile> {
  const dir = resolve(options.dir);
  // Parents keep the default mode: the `postgres` user must be able to pass through them to the
  // state folder, which is the one closed below (with mode 0700 on `.concord` as well, the data
  // would have to move out to the temp folder).
  mkdirSync(dir, { recursive: true });
  const user = postgresUser();
  closeStateFolder(dir, user);
  const previous = readClusterFile(dir);
  const running = new Map(
    (previous?.processes ?? [])
      .filter((p) => isOurProcess(p.pid, p.marker))
      .map((p) => [p.name, p]),
  );
  const participants = participantNames(options, previous);
  const secrets = clusterSecrets(participants, previous?.secrets);
  const input = {
    dir,
    user,
    participants,
    secrets,
    env: options.env ?? previous?.extraEnv,
    portFor: portPicker(previous, running),
  };
  const plan = await planCluster(input);
  const file = withKeptSettings(describeCluster(input, plan), previous, input.env);
  const record = processRecorder(file, plan.specs, running);
  // Who the others are, before any service starts: a running one reads its file again.
  writeDirectoryFiles(file);

  // Stores first, in parallel; then the services that need them.
  const stores = plan.specs.filter((s) => s.role === "postgres" || s.role === "redis");
  const services = plan.specs.filter((s) => s.role === "coordinator" || s.role === "participant");
  for (const s of stores)
    if (s.role === "postgres")
      initPostgres(s.args[1] as string, passwordOf(secrets, s.name, "admin"), user);
  await Promise.all(stores.map((s) => ensureRunning(s, running.get(s.name), file, record)));
  // Each participant's role and database, on the servers this call started (a fresh one, or one
  // back after a crash); a server that was running already has them.
  createParticipantDatabases(
    plan.participants.filter((p) => !running.has(`postgres-${p.name}`)),
    secrets,
  );
  if (!running.has("postgres-coordinator"))
    ensureParticipantDatabase({
      port: plan.archive.port,
      adminPassword: passwordOf(secrets, "postgres-coordinator", "admin"),
      database: plan.archive.database,
      role: plan.archive.role,
      rolePassword: passwordOf(secrets, "postgres-coordinator", "coordinator"),
    });
  await Promise.all(services.map((s) => ensureRunning(s, running.get(s.name), file, record)));
  return readClusterFile(dir) as ClusterFile;
}

/** The routes (the chaos runner's proxies) of the participants still there, and the extra env. */
function withKeptSettings(
  file: ClusterFile,
  previous: ClusterFile | undefined,
  env: Record<string, string> | undefined,
): ClusterFile {
  const names = new Set(file.participants.map((p) => p.name));
  const routes = Object.entries(previous?.coordinatorRoutes ?? {}).filter(([n]) => names.has(n));
  return {
    ...file,
    ...(routes.length > 0 ? { coordinatorRoutes: Object.fromEntries(routes) } : {}),
    ...(env ? { extraEnv: env } : {}),
  };
}

/**
 * The port of each named process: the one it runs on, else its port of the last run when free
 * (which it must keep while others of the cluster run: they know it by URL), else a free one.
 */
function portPicker(
  previous: ClusterFile | undefined,
  running: ReadonlyMap<string, ProcessEntry>,
): (name: string) => Promise<number> {
  const oldPort = (name: string) => previous?.processes.find((p) => p.name === name)?.port;
  const taken = new Set<number>([...running.values()].map((p) => p.port));
  return async (name: string) =>
    running.get(name)?.port ?? (await pickPort(oldPort(name), taken, running.size > 0));
}

/**
 * Writes `cluster.json` now, with what already runs, and returns how to add each process the
 * moment it is spawned, so `stop` can find it even when a later step of this start fails.
 */
function processRecorder(
  file: ClusterFile,
  specs: readonly ProcessSpec[],
  running: ReadonlyMap<string, ProcessEntry>,
): (entry: ProcessEntry) => void {
  const entries = new Map<string, ProcessEntry>(running);
  const save = () => {
    writeClusterFile(file.dir, {
      ...file,
      processes: specs.flatMap((s) => entries.get(s.name) ?? []),
    });
  };
  save();
  return (entry: ProcessEntry) => {
    entries.set(entry.name, entry);
    save();
  };
}

export function createParticipantDatabases(
  participants: readonly ParticipantEntry[],
  secrets: ClusterSecrets,
): void {
  for (const p of participants) {
    const database = participantDatabaseName(p.name);
    ensureParticipantDatabase({
      port: p.postgresPort,
      adminPassword: passwordOf(secrets, `postgres-${p.name}`, "admin"),
      database,
      role: database,
      rolePassword: passwordOf(secrets, `postgres-${p.name}`, p.application),
    });
  }
}

/** Starts one process unless it already runs, and waits until it is ready. */
export async function ensureRunning(
  spec: ProcessSpec,
  current: ProcessEntry | undefined,
  cluster: Pick<ClusterFile, "secrets">,
  record: (entry: ProcessEntry) => void = () => undefined,
): Promise<ProcessEntry> {
  if (current && isOurProcess(current.pid, current.marker)) return current;
  // Right after a kill -9 the old instance can linger for a moment (a PostgreSQL backend, a
  // zombie pid in postmaster.pid), and the new one exits at once: try a few times.
  for (let attempt = 1; ; attempt++) {
    const pid = spawnDetached(spec);
    record({ ...spec, pid });
    const alive = () => isOurProcess(pid, spec.marker);
    try {
      await waitUntil(spec.name, () => ready(spec, cluster), {
        timeoutMs: START_TIMEOUT_MS,
        alive,
        log: spec.log,
      });
      return { ...spec, pid };
    } catch (err) {
      if (attempt >= 3 || alive()) throw err;
      await sleep(500 * attempt);
    }
  }
}

async function ready(spec: ProcessSpec, cluster: Pick<ClusterFile, "secrets">): Promise<boolean> {
  switch (spec.role) {
    case "postgres":
      return postgresReady(spec.port, passwordOf(cluster.secrets, spec.name, "admin"));
    case "redis":
      return redisReady(
        redisUrl(spec.port, ADMIN_REDIS_USER, passwordOf(cluster.secrets, spec.name, "admin")),
      );
    default: {
      const res = await axios.get(`${spec.url}/healthz`, {
        timeout: 1000,
        validateStatus: () => true,
      });
      return res.status === 200;
    }
  }
}

/**
 * Restarts one named process of a running cluster from its recorded spec (after a kill).
 * `extraEnv` applies to this start only (a failpoint armed from the first instruction, say);
 * the recorded spec keeps its own environment for later restarts.
 */
export async function restartProcess(
  dir: string,
  name: string,
  extraEnv: Record<string, string> = {},
): Promise<ProcessEntry> {
  const file = readClusterFile(resolve(dir));
  if (!file) throw new Error(`no cluster in ${dir}`);
  const entry = file.processes.find((p) => p.name === name);
  if (!entry)
    throw new Error(
      `no process named ${name} in ${dir}; known: ${file.processes.map((p) => p.name).join(", ")}`,
    );
  const record = (started: ProcessEntry) => {
    const latest = readClusterFile(file.dir) ?? file;
    writeClusterFile(file.dir, {
      ...latest,
      processes: latest.processes.map((p) =>
        p.name === name ? { ...started, env: entry.env } : p,
      ),
    });
  };
  return ensureRunning({ ...entry, env: { ...entry.env, ...extraEnv } }, entry, file, record);
}

/** Changes the recorded environment of one process; it applies from its next (re)start. */
export function setProcessEnv(dir: string, name: string, env: Record<string, string>): void {
  const file = readClusterFile(resolve(dir));
  if (!file) throw new Error(`no cluster in ${dir}`);
  if (!file.processes.some((p) => p.name === name))
    throw new Error(`no process named ${name} in ${dir}`);
  writeClusterFile(file.dir, {
    ...file,
    processes: file.processes.map((p) =>
      p.name === name ? { ...p, env: { ...p.env, ...env } } : p,
    ),
  });
}

/** Stops what this cluster started, services before stores, and nothing else. */
export async function stopCluster(dir: string): Promise<{ name: string; result: string }[]> {
  // Any version of the file: stopping must work on a folder an older Concord left running.
  const file = readProcessList(resolve(dir));
  if (!file) return [];
  const order = ["coordinator", "participant", "redis", "postgres"] as const;
  const results: { name: string; result: string }[] = [];
  for (const role of order) {
    const batch = file.processes.filter((p) => p.role === role);
    const done = await Promise.all(
      batch.map(async (p) => ({
        name: p.name,
        result: await stopProcess(p.pid, p.marker, p.stopSignal),
      })),
    );
    results.push(...done);
  }
  return results;
}

export interface ProcessStatus {
  name: string;
  role: string;
  pid: number;
  port: number;
  running: boolean;
  healthy: boolean;
}

export async function clusterStatus(
  dir: string,
): Promise<{ file: ClusterFile | undefined; processes: ProcessStatus[] }> {
  const file = readClusterFile(resolve(dir));
  if (!file) return { file, processes: [] };
  const processes = await Promise.all(
    file.processes.map(async (p) => {
      const running = isOurProcess(p.pid, p.marker);
      const healthy = running && (await ready(p, file).catch(() => false));
      return { name: p.name, role: p.role, pid: p.pid, port: p.port, running, healthy };
    }),
  );
  return { file, processes };
}

/** The cluster in `dir` when every process in it runs and answers. */
export async function runningCluster(dir: string): Promise<ClusterFile | undefined> {
  const { file, processes } = await clusterStatus(dir);
  return file && processes.length > 0 && processes.every((p) => p.healthy) ? file : undefined;
}
