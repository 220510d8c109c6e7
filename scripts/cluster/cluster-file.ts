/** The machine-readable description of a running cluster: `<dir>/cluster.json`, mode 0600. */
import { chmodSync, existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { ProcessSpec } from "./processes.js";

export interface ProcessEntry extends ProcessSpec {
  pid: number;
}

export interface BankEntry {
  name: string;
  participantUrl: string;
  databaseUrl: string;
  redisUrl: string;
  postgresPort: number;
  postgresDataDir: string;
}

export interface ClusterFile {
  version: 1;
  dir: string;
  startedAt: string;
  coordinator: { url: string; redisUrl: string };
  banks: BankEntry[];
  /** Generated at first start and reused after: the PostgreSQL password lives in the data folder. */
  secrets: ClusterSecrets;
  processes: ProcessEntry[];
}

export interface ClusterSecrets {
  adminSecret: string;
  postgresPassword: string;
  redisPassword: string;
  /** The key clients present to the coordinator's transaction API. */
  apiKey: string;
  /** The HMAC secret each participant shares with the coordinator, by bank name. */
  participantSecrets: Record<string, string>;
  /** The HMAC secret the participants share to ask each other. */
  peerSecret: string;
}

export const clusterFilePath = (dir: string) => join(dir, "cluster.json");

export function readClusterFile(dir: string): ClusterFile | undefined {
  const path = clusterFilePath(dir);
  if (!existsSync(path)) return undefined;
  return JSON.parse(readFileSync(path, "utf8")) as ClusterFile;
}

/** Written to a temporary file and renamed, so a reader never sees half a file. */
export function writeClusterFile(dir: string, file: ClusterFile): void {
  const path = clusterFilePath(dir);
  const tmp = `${path}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(file, null, 2)}\n`, { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, path);
}
