/**
 * Every credential of a local cluster, one per service and per purpose: no two services share a
 * secret or a password, so one compromised service opens nothing of another's. Generated at the
 * first start (32 random bytes each) and reused after, since the stores keep what they were given.
 */
import { randomBytes } from "node:crypto";
import { peerPairKey, type ApplicationName, type ClusterSecrets } from "./cluster-file.js";

/** A participant of a cluster as its secrets see it: its name and what it runs. */
export interface ParticipantName {
  name: string;
  application: ApplicationName;
}

const fresh = () => randomBytes(32).toString("base64url");

/** The client API key ids of a local cluster: two, so that tenancy can be seen and tested. */
export const CLUSTER_API_KEY_IDS = ["client-1", "client-2"] as const;

/**
 * The store processes of a cluster with these participants, and the users each has: its
 * PostgreSQL's role is named after its application ("bank", "inventory"), its Redis user after it.
 */
export function storeUsers(
  participants: readonly ParticipantName[],
): Record<string, readonly string[]> {
  const users: Record<string, readonly string[]> = {
    "redis-coordinator": ["admin", "coordinator"],
    // The coordinator's archive of finished transactions (coordinator/archive-store.ts).
    "postgres-coordinator": ["admin", "coordinator"],
  };
  for (const { name, application } of participants) {
    users[`postgres-${name}`] = ["admin", application];
    users[`redis-${name}`] = ["admin", name];
  }
  return users;
}

export function clusterSecrets(
  participants: readonly ParticipantName[],
  old: Partial<ClusterSecrets> = {},
): ClusterSecrets {
  const names = participants.map((p) => p.name);
  const keep = (map: Record<string, string> | undefined, key: string) => map?.[key] ?? fresh();
  const apiKeys = Object.fromEntries(CLUSTER_API_KEY_IDS.map((id) => [id, keep(old.apiKeys, id)]));
  const pairs = names.flatMap((a, i) => names.slice(i + 1).map((b) => peerPairKey(a, b)));
  const passwords: Record<string, string> = {};
  for (const [store, users] of Object.entries(storeUsers(participants))) {
    for (const user of users)
      passwords[`${store}/${user}`] = keep(old.passwords, `${store}/${user}`);
  }
  return {
    apiKeys,
    apiKey: apiKeys[CLUSTER_API_KEY_IDS[0]] as string,
    adminSecrets: Object.fromEntries(
      ["coordinator", ...names].map((s) => [s, keep(old.adminSecrets, s)]),
    ),
    operatorSecrets: Object.fromEntries(
      ["coordinator", ...names].map((s) => [s, keep(old.operatorSecrets, s)]),
    ),
    participantSecrets: Object.fromEntries(names.map((n) => [n, keep(old.participantSecrets, n)])),
    peerSecrets: Object.fromEntries(pairs.map((pair) => [pair, keep(old.peerSecrets, pair)])),
    passwords,
  };
}

/** A store password; throws for one the cluster does not have. */
export function passwordOf(secrets: ClusterSecrets, store: string, user: string): string {
  const pw = secrets.passwords[`${store}/${user}`];
  if (pw === undefined) throw new Error(`no password for ${user} of ${store}`);
  return pw;
}
