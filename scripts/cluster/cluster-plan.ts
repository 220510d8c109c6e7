/**
 * What one start of the local cluster runs, in start order: the coordinator's Redis, then each
 * bank's PostgreSQL, Redis and participant, then the coordinator; with the banks' entries of
 * `cluster.json`. Ports are asked for in that same fixed order, so a restart finds its old ones.
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
  type BankEntry,
  type ClusterFile,
  type ClusterSecrets,
} from "./cluster-file.js";
import { passwordOf, peerSecretsFor } from "./cluster-secrets.js";
import { bankDatabaseName, databaseUrl, postgresDataRoot, postgresSpec } from "./postgres.js";
import type { ProcessSpec } from "./processes.js";
import { redisSpec, redisUrl } from "./redis.js";

const DIST = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");

export interface PlanInput {
  /** The state folder, resolved. */
  dir: string;
  /** The user PostgreSQL runs as, when we are root. */
  user: { uid: number; gid: number } | undefined;
  names: readonly string[];
  secrets: ClusterSecrets;
  /** Extra environment for the coordinator and participants (tests shorten timeouts with it). */
  env: Record<string, string> | undefined;
  /** The port of a named process: its running one, or one picked for this start. */
  portFor: (name: string) => Promise<number>;
}

export interface ClusterPlan {
  /** Every process, in start order (and the order of `cluster.json`). */
  specs: ProcessSpec[];
  banks: BankEntry[];
  coordinatorUrl: string;
  coordinatorRedisPort: number;
}

const pwOf = (input: PlanInput) => (store: string, storeUser: string) =>
  passwordOf(input.secrets, store, storeUser);
const logOf = (input: PlanInput, name: string) => join(input.dir, "logs", `${name}.log`);

export async function planCluster(input: PlanInput): Promise<ClusterPlan> {
  const { dir } = input;
  const pgRoot = postgresDataRoot(dir, input.user);
  const specs: ProcessSpec[] = [];
  const banks: BankEntry[] = [];
  const coordinatorRedisPort = await input.portFor("redis-coordinator");
  specs.push(coordinatorRedisSpec(input, coordinatorRedisPort));
  const coordinatorPort = await input.portFor("coordinator");
  const coordinatorUrl = `http://127.0.0.1:${coordinatorPort}`;

  for (const name of input.names) {
    const bank = await planBank(input, name, pgRoot, coordinatorUrl);
    banks.push(bank.entry);
    specs.push(...bank.specs);
  }
  specs.push(
    coordinatorSpec(
      input,
      { port: coordinatorPort, url: coordinatorUrl, coordinatorRedisPort },
      banks,
    ),
  );
  introducePeers(input, specs, banks);
  // Participants and the coordinator share a marker prefix; make each unique by its name.
  for (const s of specs)
    if (s.role === "coordinator" || s.role === "participant")
      s.marker = `--concord-name=${s.name} --concord-dir=${dir}`;
  return { specs, banks, coordinatorUrl, coordinatorRedisPort };
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
    },
    banks: plan.banks,
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

/** One bank: its entry, and its PostgreSQL, journal Redis and participant, in that order. */
async function planBank(
  input: PlanInput,
  name: string,
  pgRoot: string,
  coordinatorUrl: string,
): Promise<{ entry: BankEntry; specs: ProcessSpec[] }> {
  const pw = pwOf(input);
  const pgPort = await input.portFor(`postgres-${name}`);
  const jPort = await input.portFor(`redis-${name}`);
  const pPort = await input.portFor(name);
  const dataDir = join(pgRoot, name);
  const database = bankDatabaseName(name);
  const entry: BankEntry = {
    name,
    participantUrl: `http://127.0.0.1:${pPort}`,
    databaseUrl: databaseUrl(pgPort, pw(`postgres-${name}`, "bank"), database, database),
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
    bankRedisSpec(input, name, jPort),
    participantSpec(input, entry, pPort, coordinatorUrl),
  ];
  return { entry, specs };
}

function bankRedisSpec(input: PlanInput, name: string, port: number): ProcessSpec {
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
  bank: BankEntry,
  port: number,
  coordinatorUrl: string,
): ProcessSpec {
  const { dir, secrets } = input;
  const name = bank.name;
  return {
    name,
    role: "participant",
    command: process.execPath,
    args: [
      join(DIST, "participant", "bank", "main.js"),
      `--concord-name=${name}`,
      `--concord-dir=${dir}`,
    ],
    env: {
      CONCORD_PARTICIPANT_NAME: name,
      CONCORD_HOST: "127.0.0.1",
      CONCORD_PORT: String(port),
      CONCORD_DATABASE_URL: bank.databaseUrl,
      CONCORD_REDIS_URL: bank.redisUrl,
      CONCORD_COORDINATOR_URL: coordinatorUrl,
      CONCORD_ADMIN_SECRET: secrets.adminSecrets[name] as string,
      CONCORD_PARTICIPANT_SECRET: secrets.participantSecrets[name] as string,
      ...input.env,
    },
    port,
    url: bank.participantUrl,
    log: logOf(input, name),
    marker: `--concord-dir=${dir}`,
    stopSignal: "SIGTERM",
  };
}

function coordinatorSpec(
  input: PlanInput,
  at: { port: number; url: string; coordinatorRedisPort: number },
  banks: readonly BankEntry[],
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
      CONCORD_PARTICIPANTS: banks.map((b) => `${b.name}=${b.participantUrl}`).join(","),
      CONCORD_PARTICIPANT_SECRETS: banks
        .map((b) => `${b.name}=${secrets.participantSecrets[b.name]}`)
        .join(","),
      CONCORD_API_KEYS: Object.entries(secrets.apiKeys)
        .map(([id, key]) => `${id}=${key}`)
        .join(","),
      CONCORD_ADMIN_SECRET: secrets.adminSecrets.coordinator as string,
      ...input.env,
    },
    port: at.port,
    url: at.url,
    log: logOf(input, "coordinator"),
    marker: `--concord-dir=${dir}`,
    stopSignal: "SIGTERM",
  };
}

/**
 * Each participant knows its peers, to ask them while the coordinator is unreachable, each with
 * the secret of that pair alone.
 */
function introducePeers(input: PlanInput, specs: ProcessSpec[], banks: readonly BankEntry[]): void {
  for (const s of specs) {
    if (s.role !== "participant") continue;
    s.env.CONCORD_PEERS = banks
      .filter((b) => b.name !== s.name)
      .map((b) => `${b.name}=${b.participantUrl}`)
      .join(",");
    s.env.CONCORD_PEER_SECRETS = peerSecretsFor(input.secrets, s.name, input.names);
    if (s.env.CONCORD_PEERS === "") {
      delete s.env.CONCORD_PEERS;
      delete s.env.CONCORD_PEER_SECRETS;
    }
  }
}
