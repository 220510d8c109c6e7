/**
 * Client side of the services' admin API (failpoints) and of "the cluster is at rest", shared
 * by the chaos runner, the demo and the tests.
 */
import axios from "axios";
import { sleep } from "../../shared/clock.js";
import type { FailpointSpec } from "../../shared/failpoints.js";
import { adminSecretOf, type ClusterFile } from "./cluster-file.js";
import { isOurProcess } from "./processes.js";

const http = axios.create({ validateStatus: () => true, timeout: 5000 });
/** The admin secret of the service (coordinator or participant) that answers at `serviceUrl`. */
function auth(cluster: ClusterFile, serviceUrl: string) {
  const service =
    cluster.processes.find((p) => p.url === serviceUrl)?.name ??
    (serviceUrl === cluster.coordinator.url
      ? "coordinator"
      : cluster.participants.find((p) => p.participantUrl === serviceUrl)?.name);
  if (!service) throw new Error(`no service of this cluster answers at ${serviceUrl}`);
  return { headers: { authorization: `Bearer ${adminSecretOf(cluster, service)}` } };
}

export async function armFailpoint(
  cluster: ClusterFile,
  serviceUrl: string,
  failpoint: string,
  spec: FailpointSpec,
): Promise<{ status: number; data: unknown }> {
  const res = await http.put(
    `${serviceUrl}/v1/admin/failpoints/${failpoint}`,
    spec,
    auth(cluster, serviceUrl),
  );
  return { status: res.status, data: res.data };
}

export async function disarmFailpoint(
  cluster: ClusterFile,
  serviceUrl: string,
  failpoint: string,
): Promise<void> {
  await http
    .delete(`${serviceUrl}/v1/admin/failpoints/${failpoint}`, auth(cluster, serviceUrl))
    .catch(() => undefined);
}

/** Disarms every armed failpoint of every coordinator and participant that runs. */
export async function disarmAllFailpoints(cluster: ClusterFile): Promise<void> {
  const services = cluster.processes.filter(
    (p) =>
      (p.role === "coordinator" || p.role === "participant") &&
      p.url &&
      isOurProcess(p.pid, p.marker),
  );
  for (const p of services) {
    const res = await http
      .get<{ failpoints?: { name: string; spec: unknown }[] } | undefined>(
        `${p.url}/v1/admin/failpoints`,
        auth(cluster, p.url as string),
      )
      .catch(() => undefined);
    for (const fp of res?.data?.failpoints ?? []) {
      if (fp.spec) await disarmFailpoint(cluster, p.url as string, fp.name);
    }
  }
}

/**
 * Waits (bounded) until the coordinator has no transaction in flight, so that checks of what
 * is left at the banks see the system at rest rather than mid-phase-2. Returns false if the
 * bound passed first.
 */
export async function waitUntilSettled(
  cluster: Pick<ClusterFile, "coordinator" | "secrets">,
  boundMs = 30_000,
): Promise<boolean> {
  const until = Date.now() + boundMs;
  // As the operator: a client's key sees only its own transactions.
  const headers = { authorization: `Bearer ${adminSecretOf(cluster, "coordinator")}` };
  for (;;) {
    const res = await http
      .get<{ transactions: unknown[] }>(
        `${cluster.coordinator.url}/v1/transactions?state=active&limit=1`,
        { headers },
      )
      .catch(() => undefined);
    if (res?.status === 200 && res.data.transactions.length === 0) return true;
    if (Date.now() > until) return false;
    await sleep(100);
  }
}
