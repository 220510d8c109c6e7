/**
 * What both demo scenarios share: the cluster (the one running in the folder, or a new one with
 * three banks and the inventory), the coordinator client, the participants' admin routes, the
 * databases' traces of transactions, and printing.
 */
import axios from "axios";
import pg from "pg";
import { CoordinatorClient } from "../shared/client/index.js";
import { DEFAULT_CLUSTER_DIR, runningCluster, startCluster } from "./cluster/cluster.js";
import { adminSecretOf, participantOf, type ClusterFile } from "./cluster/cluster-file.js";

export { DEFAULT_CLUSTER_DIR };
export const out = (line = "") => process.stdout.write(`${line}\n`);

const http = axios.create({ validateStatus: () => true, timeout: 30_000 });

export async function clusterFor(dir: string): Promise<ClusterFile> {
  const running = await runningCluster(dir);
  if (running) {
    out(`Using the cluster running in ${dir} (coordinator ${running.coordinator.url}).`);
    return running;
  }
  out(
    `Starting a local cluster in ${dir}: 3 banks and an inventory, each with its own PostgreSQL and Redis, plus the coordinator...`,
  );
  const started = await startCluster({ dir, banks: 3, inventory: 1 });
  out(
    `Cluster up: coordinator ${started.coordinator.url}, participants ${started.participants.map((p) => `${p.name} ${p.participantUrl}`).join(", ")}.`,
  );
  return started;
}

/** The client's view of the coordinator: the cluster's first API key. */
export function clientOf(cluster: ClusterFile, retries = 4): CoordinatorClient {
  return new CoordinatorClient({
    url: cluster.coordinator.url,
    apiKey: cluster.secrets.apiKey,
    retries,
  });
}

/** A participant's own admin route (accounts, items), with that participant's admin secret. */
export async function adminCall(
  cluster: ClusterFile,
  participant: string,
  method: "GET" | "POST",
  path: string,
  body?: unknown,
): Promise<{ status: number; data: unknown }> {
  const res = await http.request<unknown>({
    method,
    url: `${participantOf(cluster, participant).participantUrl}${path}`,
    headers: { authorization: `Bearer ${adminSecretOf(cluster, participant)}` },
    ...(body !== undefined ? { data: body } : {}),
  });
  return { status: res.status, data: res.data };
}

/** Creates a participant's row (an account, an item); one left by an earlier run (409) is reused. */
export async function openOrReuse(
  cluster: ClusterFile,
  participant: string,
  path: string,
  body: { id: string; [field: string]: unknown },
): Promise<void> {
  const res = await adminCall(cluster, participant, "POST", path, body);
  if (res.status !== 201 && res.status !== 409)
    throw new Error(
      `creating ${participant}${path}/${body.id} failed: ${res.status} ${JSON.stringify(res.data)}`,
    );
}

/** Runs `work` on a participant's database, as its own role. */
export async function withDatabase<T>(
  cluster: ClusterFile,
  participant: string,
  work: (db: pg.Client) => Promise<T>,
): Promise<T> {
  const db = new pg.Client({ connectionString: participantOf(cluster, participant).databaseUrl });
  await db.connect();
  try {
    return await work(db);
  } finally {
    await db.end();
  }
}

/** `SELECT count(*) AS n ...` as a number. */
export async function countRows(
  db: pg.Client,
  sql: string,
  values: unknown[] = [],
): Promise<number> {
  const { rows } = await db.query<{ n: string }>(sql, values);
  return Number(rows[0]?.n ?? 0);
}

/** Prints each check and returns whether all passed. */
export function printChecks(checks: readonly (readonly [string, boolean])[]): boolean {
  out("\nChecks:");
  for (const [label, ok] of checks) out(`  ${ok ? "PASS" : "FAIL"}  ${label}`);
  const ok = checks.every(([, passed]) => passed);
  out(ok ? "\nAll checks passed." : "\nSOME CHECKS FAILED.");
  return ok;
}

/** An account's balance at a bank (its admin route). */
export async function readBalance(cluster: ClusterFile, bank: string, id: string): Promise<bigint> {
  const res = await adminCall(cluster, bank, "GET", `/v1/accounts/${id}`);
  const balance = (res.data as { balance?: unknown } | undefined)?.balance;
  if (res.status !== 200 || typeof balance !== "string")
    throw new Error(`reading ${bank}/${id}: ${res.status} ${JSON.stringify(res.data)}`);
  return BigInt(balance);
}

/** Every account of a bank with its balance (its admin route). */
export async function listBalances(
  cluster: ClusterFile,
  bank: string,
): Promise<{ id: string; balance: string }[]> {
  const res = await adminCall(cluster, bank, "GET", "/v1/accounts?limit=10000");
  const accounts = (res.data as { accounts?: { id: string; balance: string }[] } | undefined)
    ?.accounts;
  if (res.status !== 200 || !accounts) throw new Error(`reading ${bank}: ${res.status}`);
  return accounts;
}

/** An item's stock and sold at the inventory (its admin route). */
export async function readItem(
  cluster: ClusterFile,
  inventory: string,
  id: string,
): Promise<{ stock: number; sold: number }> {
  const res = await adminCall(cluster, inventory, "GET", `/v1/items/${id}`);
  const item = res.data as { stock?: unknown; sold?: unknown } | undefined;
  if (res.status !== 200 || typeof item?.stock !== "number" || typeof item.sold !== "number")
    throw new Error(`reading item ${id}: ${res.status} ${JSON.stringify(res.data)}`);
  return { stock: item.stock, sold: item.sold };
}
