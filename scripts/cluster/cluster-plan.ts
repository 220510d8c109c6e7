/**
 * What one start of the local cluster runs, in start order: the coordinator's Redis, then each
 * participant's PostgreSQL, Redis and participant (a bank or an inventory), then the coordinator;
 * with the participants' entries of `cluster.json`. Ports are asked for in that same fixed order,
 * so a restart finds its old ones.
 */
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import {
  ADMIN_ACL_RULES,
  ADMIN_REDIS_USER,
  logNamespace,
  redisUserOf,
  serviceAclRules,
} from "../../shared/redis-acl.js";
import {
  CLUSTER_FILE_VERSION,
  isBank,
  type ApplicationName,
  type ClusterFile,
  type ClusterSecrets,
  type ParticipantEntry,
} from "./cluster-file.js";
import { passwordOf, type ParticipantName } from "./cluster-secrets.js";
import { participantsFilePath, peersFilePath } from "./directory-files.js";
import {
  participantDatabaseName,
  databaseUrl,
  postgresDataRoot,
  postgresSpec,
} from "./postgres.js";
import type { ProcessSpec } from "./processes.js";
import { redisSpec, redisUrl } from "./redis.js";

const DIST = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");

/** Each application's process, under DIST: the participant framework running it. */
export const APPLICATIONS: Record<ApplicationName, { main: readonly string[] }> = {
  bank: { main: ["participant", "bank", "main.js"] },
  inventory: { main: ["participant", "inventory", "main.js"] },
};

export interface PlanInput {
  /** The state folder, resolved. */
  dir: string;
  /** The user PostgreSQL runs as, when we are root. */
  user: { uid: number; gid: number } | undefined;
  /** Every participant, in start order. */
  participants: readonly ParticipantName[];
  secrets: ClusterSecrets;
  /** Extra environment for the coordinator and participants (tests shorten timeouts with it). */
  env: Record<string, string> | undefined;
  /** The port of a named process: its running one, or one picked for this start. */
  portFor: (name: string) => Promise<number>;
}

export interface ClusterPlan {
  /** Every process, in start order (and the order of `cluster.json`). */
  specs: ProcessSpec[];
  participants: ParticipantEntry[];
  coordinatorUrl: string;
  coordinatorRedisPort: number;
  archive: ArchivePlan;
}

/** The coordinator's own PostgreSQL, holding its archive of finished transactions. */
export interface ArchivePlan {
  port: number;
  database: string;
  role: string;
  url: string;
  adminUrl: string;
}

export const ARCHIVE_DATABASE = "concord_coordinator";
export const ARCHIVE_ROLE = "coordinator";

const pwOf = (input: PlanInput) => (store: string, storeUser: string) =>
  passwordOf(input.secrets, store, storeUser);
const logOf = (input: PlanInput, name: string) => join(input.dir, "logs", `${name}.log`);

export async function planCluster(input: PlanInput): Promise<ClusterPlan> {
  const { dir } = input;
  const pgRoot = postgresDataRoot(dir, input.user);
  const specs: ProcessSpec[] = [];
  const participants: ParticipantEntry[] = [];
  const coordinatorRedisPort = await input.portFor("redis-coordinator");
  specs.push(coordinatorRedisSpec(input, coordinatorRedisPort));
  const coordinatorPort = await input.portFor("coordinator");
  const coordinatorUrl = `http://127.0.0.1:${coordinatorPort}`;

  for (const p of input.participants) {
    const planned = await planParticipant(input, p, pgRoot, coordinatorUrl);
    participants.push(planned.entry);
    specs.push(...planned.specs);
  }
  // Asked for after the participants': a cluster started before the archive keeps its ports.
  const archive = archivePlan(input, await input.portFor("postgres-coordinator"));
  specs.push(
    postgresSpec({
      name: "postgres-coordinator",
      dataDir: join(pgRoot, "coordinator"),
      port: archive.port,
      log: logOf(input, "postgres-coordinator"),
      user: input.user,
      maxPrepared: 0,
    }),
  );
  specs.push(
    coordinatorSpec(input, {
      port: coordinatorPort,
      url: coordinatorUrl,
      coordinatorRedisPort,
      archiveUrl: archive.url,
    }),
  );
  uniqueMarkers(specs, dir);
  return { specs, participants, coordinatorUrl, coordinatorRedisPort, archive };
}

function archivePlan(input: PlanInput, port: number): ArchivePlan {
  const pw = pwOf(input);
  return {
    port,
    database: ARCHIVE_DATABASE,
    role: ARCHIVE_ROLE,
    url: databaseUrl(
      port,
      pw("postgres-coordinator", "coordinator"),
      ARCHIVE_DATABASE,
      ARCHIVE_ROLE,
    ),
    adminUrl: databaseUrl(port, pw("postgres-coordinator", "admin"), ARCHIVE_DATABASE),
  };
}

/** Participants and the coordinator share a marker prefix; make each unique by its name. */
function uniqueMarkers(specs: ProcessSpec[], dir: string): void {
  for (const s of specs)
    if (s.role === "coordinator" || s.role === "participant")
      s.marker = `--concord-name=${s.name} --concord-dir=${dir}`;
}

/**
 * One participant added to a running cluster (`npm run cluster -- add`): its entry, and its
 * PostgreSQL, journal Redis and process, in start order.
 */
export async function planAddedParticipant(
  input: PlanInput,
  participant: ParticipantName,
  coordinatorUrl: string,
): Promise<{ entry: ParticipantEntry; specs: ProcessSpec[] }> {
  const planned = await planParticipant(
    input,
    participant,
    postgresDataRoot(input.dir, input.user),
    coordinatorUrl,
  );
  uniqueMarkers(planned.specs, input.dir);
  return planned;
}

/** The cluster's description for `cluster.json`, before any process of this start is recorded. */
export function describeCluster(input: PlanInput, plan: ClusterPlan): ClusterFile {
  const pw = pwOf(input);
  return {
    version: CLUSTER_FILE_VERSION,
    dir: input.dir,
    startedAt: new Date().toISOString(),
    coordinator: {
      url: plan.coordinatorUrl,
      redisUrl: redisUrl(
        plan.coordinatorRedisPort,
        redisUserOf("coordinator"),
        pw("redis-coordinator", "coordinator"),
      ),
      adminRedisUrl: redisUrl(
        plan.coordinatorRedisPort,
        ADMIN_REDIS_USER,
        pw("redis-coordinator", "admin"),
      ),
      archiveDatabaseUrl: plan.archive.url,
      adminArchiveDatabaseUrl: plan.archive.adminUrl,
      archivePostgresPort: plan.archive.port,
    },
    participants: plan.participants,
    banks: plan.participants.filter(isBank),
    secrets: input.secrets,
    processes: [],
  };
}

function coordinatorRedisSpec(input: PlanInput, port: number): ProcessSpec {
  const pw = pwOf(input);
  return redisSpec({
    name: "redis-coordinator",
    dataDir: join(input.dir, "redis", "coordinator"),
    port,
    users: [
      {
        name: ADMIN_REDIS_USER,
        password: pw("redis-coordinator", "admin"),
        rules: ADMIN_ACL_RULES,
      },
      {
        name: redisUserOf("coordinator"),
        password: pw("redis-coordinator", "coordinator"),
        rules: serviceAclRules(logNamespace("coordinator")),
      },
    ],
    log: logOf(input, "redis-coordinator"),
  });
}

/** One participant: its entry, and its PostgreSQL, journal Redis and process, in that order. */
async function planParticipant(
  input: PlanInput,
  { name, application }: ParticipantName,
  pgRoot: string,
  coordinatorUrl: string,
): Promise<{ entry: ParticipantEntry; specs: ProcessSpec[] }> {
  const pw = pwOf(input);
  const pgPort = await input.portFor(`postgres-${name}`);
  const jPort = await input.portFor(`redis-${name}`);
  const pPort = await input.portFor(name);
  const dataDir = join(pgRoot, name);
  const database = participantDatabaseName(name);
  const entry: ParticipantEntry = {
    name,
    application,
    participantUrl: `http://127.0.0.1:${pPort}`,
    databaseUrl: databaseUrl(pgPort, pw(`postgres-${name}`, application), database, database),
    adminDatabaseUrl: databaseUrl(pgPort, pw(`postgres-${name}`, "admin"), database),
    redisUrl: redisUrl(jPort, redisUserOf({ participant: name }), pw(`redis-${name}`, name)),
    adminRedisUrl: redisUrl(jPort, ADMIN_REDIS_USER, pw(`redis-${name}`, "admin")),
    postgresPort: pgPort,
    postgresDataDir: dataDir,
  };
  const specs = [
    postgresSpec({
      name: `postgres-${name}`,
      dataDir,
      port: pgPort,
      log: logOf(input, `postgres-${name}`),
      user: input.user,
    }),
    journalRedisSpec(input, name, jPort),
    participantSpec(input, entry, pPort, coordinatorUrl),
  ];
  return { entry, specs };
}

function journalRedisSpec(input: PlanInput, name: string, port: number): ProcessSpec {
  const pw = pwOf(input);
  return redisSpec({
    name: `redis-${name}`,
    dataDir: join(input.dir, "redis", name),
    port,
    users: [
      {
        name: ADMIN_REDIS_USER,
        password: pw(`redis-${name}`, "admin"),
        rules: ADMIN_ACL_RULES,
      },
      {
        name: redisUserOf({ participant: name }),
        password: pw(`redis-${name}`, name),
        rules: serviceAclRules(logNamespace({ participant: name })),
      },
    ],
    log: logOf(input, `redis-${name}`),
  });
}

function participantSpec(
  input: PlanInput,
  participant: ParticipantEntry,
  port: number,
  coordinatorUrl: string,
): ProcessSpec {
  const { dir, secrets } = input;
  const name = participant.name;
  return {
    name,
    role: "participant",
    command: process.execPath,
    args: [
      join(DIST, ...APPLICATIONS[participant.application].main),
      `--concord-name=${name}`,
      `--concord-dir=${dir}`,
    ],
    env: {
      CONCORD_PARTICIPANT_NAME: name,
      CONCORD_HOST: "127.0.0.1",
      CONCORD_PORT: String(port),
      CONCORD_DATABASE_URL: participant.databaseUrl,
      CONCORD_REDIS_URL: participant.redisUrl,
      CONCORD_COORDINATOR_URL: coordinatorUrl,
      CONCORD_ADMIN_SECRET: secrets.adminSecrets[name] as string,
      CONCORD_OPERATOR_SECRET: secrets.operatorSecrets[name] as string,
      CONCORD_PARTICIPANT_SECRET: secrets.participantSecrets[name] as string,
      // Its peers, each with the secret of that pair alone: read again when the file changes.
      CONCORD_PEERS_FILE: peersFilePath(dir, name),
      ...input.env,
    },
    port,
    url: participant.participantUrl,
    log: logOf(input, name),
    marker: `--concord-dir=${dir}`,
    stopSignal: "SIGTERM",
  };
}

function coordinatorSpec(
  input: PlanInput,
  at: { port: number; url: string; coordinatorRedisPort: number; archiveUrl: string },
): ProcessSpec {
  const { dir, secrets } = input;
  return {
    name: "coordinator",
    role: "coordinator",
    command: process.execPath,
    args: [
      join(DIST, "coordinator", "main.js"),
      "--concord-name=coordinator",
      `--concord-dir=${dir}`,
    ],
    env: {
      CONCORD_HOST: "127.0.0.1",
      CONCORD_PORT: String(at.port),
      CONCORD_REDIS_URL: redisUrl(
        at.coordinatorRedisPort,
        redisUserOf("coordinator"),
        pwOf(input)("redis-coordinator", "coordinator"),
      ),
      // Its participants and their secrets: read again when the file changes.
      CONCORD_PARTICIPANTS_FILE: participantsFilePath(dir),
      CONCORD_API_KEYS: Object.entries(secrets.apiKeys)
        .map(([id, key]) => `${id}=${key}`)
        .join(","),
      CONCORD_ADMIN_SECRET: secrets.adminSecrets.coordinator as string,
      CONCORD_OPERATOR_SECRET: secrets.operatorSecrets.coordinator as string,
      CONCORD_ARCHIVE_DATABASE_URL: at.archiveUrl,
      ...input.env,
    },
    port: at.port,
    url: at.url,
    log: logOf(input, "coordinator"),
    marker: `--concord-dir=${dir}`,
    stopSignal: "SIGTERM",
  };
}
