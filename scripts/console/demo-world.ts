/**
 * A small world for the web console to show, shared by its browser test and the screenshot
 * script: a cluster of its own whose coordinator has the admin endpoints (failpoints) and whose
 * recovery waits ten minutes, so a transaction held in doubt stays so until an operator acts;
 * transfers that commit and abort; a transaction held prepared by a failpoint.
 */
import { sleep } from "../../shared/clock.js";
import { armFailpoint } from "../cluster/admin-client.js";
import { adminSecretOf, operatorSecretOf, type ClusterFile } from "../cluster/cluster-file.js";

export const CONSOLE_CLUSTER_ENV: Record<string, string> = {
  CONCORD_LOG_LEVEL: "warn",
  CONCORD_ADMIN_ENDPOINTS: "true",
  CONCORD_RECOVERY_INTERVAL_MS: "600000",
  CONCORD_RECOVERY_MIN_AGE_MS: "600000",
  CONCORD_CLIENT_MAX_IN_FLIGHT: "1000",
  CONCORD_CLIENT_MAX_HELD_MS: "86400000",
};

export interface Answer {
  status: number;
  data: Record<string, unknown>;
}

async function call(url: string, token: string, method = "GET", body?: unknown): Promise<Answer> {
  const res = await fetch(url, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { "content-type": "application/json" }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, data: (await res.json()) as Record<string, unknown> };
}

/** Opens an account at a bank with a balance (the bank's admin route). */
export async function openAccount(cluster: ClusterFile, bank: string, id: string, balance: number) {
  const p = cluster.participants.find((x) => x.name === bank);
  if (!p) throw new Error(`no participant ${bank}`);
  const res = await call(`${p.participantUrl}/v1/accounts`, adminSecretOf(cluster, bank), "POST", {
    id,
    balance: String(balance),
  });
  if (res.status !== 201) throw new Error(`opening ${bank}/${id}: ${JSON.stringify(res)}`);
}

export function transferBody(from: [string, string], to: [string, string], amount: number) {
  return {
    participants: [
      { name: from[0], operations: [{ op: "debit", account: from[1], amount: String(amount) }] },
      { name: to[0], operations: [{ op: "credit", account: to[1], amount: String(amount) }] },
    ],
  };
}

/** Runs a transaction with the cluster's API key and waits for its answer. */
export function run(cluster: ClusterFile, body: unknown): Promise<Answer> {
  return call(`${cluster.coordinator.url}/v1/transactions`, cluster.secrets.apiKey, "POST", body);
}

/** GET with the coordinator's operator secret. */
export function asOperator(cluster: ClusterFile, path: string, method = "GET", body?: unknown) {
  const secret = operatorSecretOf(cluster, "coordinator");
  return call(`${cluster.coordinator.url}${path}`, secret, method, body);
}

/**
 * Txids the in-doubt view lists as prepared at some participant, each with what the log says
 * of it at each participant that holds it.
 */
export async function preparedInDoubt(cluster: ClusterFile): Promise<Map<string, string[]>> {
  const res = await asOperator(cluster, "/v1/operator/in-doubt");
  if (res.status !== 200) throw new Error(`in-doubt: ${JSON.stringify(res)}`);
  const found = new Map<string, string[]>();
  for (const p of res.data.participants as { prepared?: { txid: string; log: string }[] }[])
    for (const x of p.prepared ?? []) found.set(x.txid, [...(found.get(x.txid) ?? []), x.log]);
  return found;
}

/**
 * A transfer held after its votes by the coordinator's `coordinator.after-votes` failpoint
 * (a hang, once): both banks hold it prepared and the log has no decision. Give it a long
 * `timeoutMs`, so its deadline does not pass while it is shown. Returns its txid
 * and the client request's abort controller (the request never gets an answer).
 */
export async function holdInDoubt(
  cluster: ClusterFile,
  body: unknown,
): Promise<{ txid: string; request: AbortController }> {
  const before = await preparedInDoubt(cluster);
  const armed = await armFailpoint(cluster, cluster.coordinator.url, "coordinator.after-votes", {
    action: "hang",
    count: 1,
  });
  if (armed.status !== 200) throw new Error(`arming the failpoint: ${JSON.stringify(armed)}`);
  const request = new AbortController();
  void fetch(`${cluster.coordinator.url}/v1/transactions`, {
    method: "POST",
    headers: {
      authorization: `Bearer ${cluster.secrets.apiKey}`,
      "content-type": "application/json",
    },
    body: JSON.stringify(body),
    signal: request.signal,
  }).catch(() => undefined);
  for (let i = 0; i < 600; i++) {
    const now = await preparedInDoubt(cluster);
    const held = [...now].find(
      ([txid, logs]) =>
        !before.has(txid) && logs.length >= 2 && logs.every((l) => l === "undecided"),
    );
    if (held) return { txid: held[0], request };
    await sleep(100);
  }
  request.abort();
  throw new Error("no transaction was held prepared within 60 s");
}
