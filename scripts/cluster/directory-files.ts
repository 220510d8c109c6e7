/**
 * The files that tell each service of a local cluster who the others are, read again by the
 * services when they change (shared/participant-directory.ts): the coordinator's participants
 * file, `<dir>/participants.json`, and each participant's peers file, `<dir>/peers/<name>.json`.
 * Each holds only the secrets of its own service's pairs; each is written whole to a temporary
 * file and renamed into place, mode 0600, so a service never reads half of one.
 */
import { chmodSync, existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import {
  peerPairKey,
  readClusterFile,
  writeClusterFile,
  type ClusterFile,
} from "./cluster-file.js";

type Entries = Record<string, { url: string; secret: string }>;

export const participantsFilePath = (dir: string) => join(dir, "participants.json");
export const peersFilePath = (dir: string, participant: string) =>
  join(dir, "peers", `${participant}.json`);

function writeAtomically(path: string, content: unknown): void {
  const tmp = `${path}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(content, null, 2)}\n`, { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, path);
}

function secretOf(map: Record<string, string>, key: string, what: string): string {
  const secret = map[key];
  if (secret === undefined) throw new Error(`cluster.json has no ${what} for ${key}`);
  return secret;
}

/** The coordinator's participants: each one's URL (or its route) and the secret they share. */
export function coordinatorEntries(cluster: ClusterFile): Entries {
  const entries: Entries = {};
  for (const p of cluster.participants)
    entries[p.name] = {
      url: cluster.coordinatorRoutes?.[p.name] ?? p.participantUrl,
      secret: secretOf(cluster.secrets.participantSecrets, p.name, "participant secret"),
    };
  return entries;
}

/** One participant's peers: every other participant, with the secret of that pair. */
export function peerEntries(cluster: ClusterFile, participant: string): Entries {
  const entries: Entries = {};
  for (const p of cluster.participants) {
    if (p.name === participant) continue;
    const pair = peerPairKey(participant, p.name);
    entries[p.name] = {
      url: p.participantUrl,
      secret: secretOf(cluster.secrets.peerSecrets, pair, "pair secret"),
    };
  }
  return entries;
}

export function writeParticipantsFile(cluster: ClusterFile): void {
  writeAtomically(participantsFilePath(cluster.dir), {
    participants: coordinatorEntries(cluster),
  });
}

export function writePeersFile(cluster: ClusterFile, participant: string): void {
  mkdirSync(join(cluster.dir, "peers"), { recursive: true, mode: 0o700 });
  chmodSync(join(cluster.dir, "peers"), 0o700);
  writeAtomically(peersFilePath(cluster.dir, participant), {
    peers: peerEntries(cluster, participant),
  });
}

/** Every participant's peers file, then the coordinator's file. */
export function writeDirectoryFiles(cluster: ClusterFile): void {
  for (const p of cluster.participants) writePeersFile(cluster, p.name);
  writeParticipantsFile(cluster);
}

export function removePeersFile(dir: string, participant: string): void {
  const path = peersFilePath(dir, participant);
  if (existsSync(path)) rmSync(path, { force: true });
}

/**
 * Points the coordinator at other URLs for some participants (the chaos runner's fault proxies),
 * or back at their own with `undefined`: recorded in `cluster.json`, so later starts and
 * restarts keep them, and written into the coordinator's file, which it reads again within a
 * second (a restarted coordinator reads it at start).
 */
export function routeCoordinatorThrough(
  dir: string,
  routes: Record<string, string> | undefined,
): ClusterFile {
  const file = readClusterFile(resolve(dir));
  if (!file) throw new Error(`no cluster in ${dir}`);
  const next: ClusterFile = { ...file };
  if (routes === undefined) delete next.coordinatorRoutes;
  else next.coordinatorRoutes = { ...routes };
  writeClusterFile(file.dir, next);
  writeParticipantsFile(next);
  return next;
}
