/** The machine-readable description of a running cluster: `<dir>/cluster.json`, mode 0600. */
import { chmodSync, existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { ProcessSpec } from "./processes.js";

/** Version 2: a credential per service (version 1 shared one password and one admin secret). */
export const CLUSTER_FILE_VERSION = 2;

export interface ProcessEntry extends ProcessSpec {
  pid: number;
}

/** The applications a local cluster can run as participants (see cluster-plan.ts APPLICATIONS). */
export type ApplicationName = "bank" | "inventory";

export interface ParticipantEntry {
  name: string;
  /** What the participant runs: its start command and its database's tables follow from it. */
  application: ApplicationName;
  participantUrl: string;
  /** The participant's own PostgreSQL role (not a superuser): what it connects as. */
  databaseUrl: string;
  /** The superuser of the participant's PostgreSQL server: operators only. */
  adminDatabaseUrl: string;
  /** The journal's Redis as the participant's ACL user (its own keys and commands only). */
  redisUrl: string;
  /** The journal's Redis as its operators' user. */
  adminRedisUrl: string;
  postgresPort: number;
  postgresDataDir: string;
}

/** A participant that runs the bank application. */
export type BankEntry = ParticipantEntry & { application: "bank" };

export interface ClusterFile {
  version: typeof CLUSTER_FILE_VERSION;
  dir: string;
  startedAt: string;
  coordinator: {
    url: string;
    /** The decision log as the coordinator's ACL user. */
    redisUrl: string;
    /** The decision log as its operators' user. */
    adminRedisUrl: string;
    /** The archive of finished transactions, as the coordinator's role (absent before it existed). */
    archiveDatabaseUrl?: string;
    /** The archive as its server's superuser, for operators and tests. */
    adminArchiveDatabaseUrl?: string;
    archivePostgresPort?: number;
  };
  /** Every participant, whatever its application, in start order. */
  participants: ParticipantEntry[];
  /** The participants that are banks (the same entries), for what deals in money. */
  banks: BankEntry[];
  /** Generated at first start and reused after: the stores keep the passwords they were given. */
  secrets: ClusterSecrets;
  processes: ProcessEntry[];
  /**
   * The URL the coordinator reaches a participant by when it is not the participant's own (the
   * chaos runner's fault proxies), by name; written into the coordinator's participants file.
   */
  coordinatorRoutes?: Record<string, string>;
  /** The extra environment the cluster was started with; `add` gives it to a new participant. */
  extraEnv?: Record<string, string>;
}

export interface ClusterSecrets {
  /** Client API keys by id (CONCORD_API_KEYS). */
  apiKeys: Record<string, string>;
  /** The first client's key, for scripts and examples. */
  apiKey: string;
  /** Each service's admin secret, by service name ("coordinator", "bank-a", "inventory", ...). */
  adminSecrets: Record<string, string>;
  /**
   * Each service's operator secret (console, operator CLI, metrics), by service name. Absent in a
   * cluster file written before operators had a role; filled in at the next start.
   */
  operatorSecrets: Record<string, string>;
  /** The HMAC secret each participant shares with the coordinator, by participant name. */
  participantSecrets: Record<string, string>;
  /** The HMAC secret each pair of participants shares, by "<name>/<name>" in name order. */
  peerSecrets: Record<string, string>;
  /** Store passwords by "<store process>/<user>", e.g. "postgres-bank-a/admin". */
  passwords: Record<string, string>;
}

export const clusterFilePath = (dir: string) => join(dir, "cluster.json");

/** The key of a pair of participants in `peerSecrets`: the same whichever of the two asks. */
export function peerPairKey(a: string, b: string): string {
  return a < b ? `${a}/${b}` : `${b}/${a}`;
}

/** A service's admin secret; throws for a service the cluster does not have. */
export function adminSecretOf(cluster: Pick<ClusterFile, "secrets">, service: string): string {
  const secret = cluster.secrets.adminSecrets[service];
  if (secret === undefined)
    throw new Error(
      `no admin secret for ${service}; known: ${Object.keys(cluster.secrets.adminSecrets).join(", ")}`,
    );
  return secret;
}

/** A service's operator secret; throws for a service the cluster does not have. */
export function operatorSecretOf(cluster: Pick<ClusterFile, "secrets">, service: string): string {
  const secret = (cluster.secrets.operatorSecrets as Record<string, string> | undefined)?.[service];
  if (secret === undefined)
    throw new Error(
      `no operator secret for ${service}; start the cluster again (npm run cluster -- start) to make one`,
    );
  return secret;
}

export function readClusterFile(dir: string): ClusterFile | undefined {
  const path = clusterFilePath(dir);
  if (!existsSync(path)) return undefined;
  const file = JSON.parse(readFileSync(path, "utf8")) as { version?: unknown };
  if (file.version !== CLUSTER_FILE_VERSION) {
    throw new Error(
      `${path} was written by an older Concord (version ${String(file.version)}), whose services shared one password: ` +
        `stop it (npm run cluster -- stop --dir ${dir} with that version, or kill its processes) and delete ${dir} to start afresh`,
    );
  }
  // A file written before participants had applications: every participant was a bank.
  const cluster = file as Omit<ClusterFile, "participants" | "banks"> & {
    participants?: ParticipantEntry[];
    banks: Omit<BankEntry, "application">[];
  };
  const banks = cluster.banks.map((b): BankEntry => ({ ...b, application: "bank" }));
  return { ...cluster, banks, participants: cluster.participants ?? banks };
}

export function isBank(p: ParticipantEntry): p is BankEntry {
  return p.application === "bank";
}

/** A participant of the cluster by name; throws for one it does not have. */
export function participantOf(
  cluster: Pick<ClusterFile, "participants">,
  name: string,
): ParticipantEntry {
  const found = cluster.participants.find((p) => p.name === name);
  if (!found)
    throw new Error(
      `no participant ${name}; known: ${cluster.participants.map((p) => p.name).join(", ")}`,
    );
  return found;
}

/** The processes recorded in `<dir>/cluster.json`, whatever version wrote it (for `stop`). */
export function readProcessList(dir: string): { processes: ProcessEntry[] } | undefined {
  const path = clusterFilePath(dir);
  if (!existsSync(path)) return undefined;
  const file = JSON.parse(readFileSync(path, "utf8")) as { processes?: ProcessEntry[] };
  return { processes: file.processes ?? [] };
}

/** Reads the latest `cluster.json`, changes it and writes it back. */
export function updateClusterFile(
  dir: string,
  change: (file: ClusterFile) => ClusterFile,
): ClusterFile {
  const file = readClusterFile(dir);
  if (!file) throw new Error(`no cluster in ${dir}`);
  const next = change(file);
  writeClusterFile(dir, next);
  return next;
}

/** Written to a temporary file and renamed, so a reader never sees half a file. */
export function writeClusterFile(dir: string, file: ClusterFile): void {
  const path = clusterFilePath(dir);
  const tmp = `${path}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(file, null, 2)}\n`, { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, path);
}
