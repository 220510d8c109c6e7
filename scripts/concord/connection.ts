/**
 * Where the operator CLI connects and with which secret: `--url`, else CONCORD_URL, else the
 * local cluster's coordinator (its state folder, `--dir`, default .concord/cluster); the secret
 * from CONCORD_OPERATOR_SECRET, else the local cluster's file. Nothing is guessed beyond that.
 */
import { operatorSecretOf, readClusterFile } from "../cluster/cluster-file.js";
import { UsageError } from "../cli-args.js";

/**
 * scripts/cluster/cluster.ts DEFAULT_CLUSTER_DIR (a test keeps them equal), not imported from
 * there: that module loads the whole cluster machinery, seconds of start-up for a CLI.
 */
export const DEFAULT_CLUSTER_DIR = ".concord/cluster";

export interface Connection {
  url: string;
  secret: string;
}

export function resolveConnection(
  flags: { url?: string | undefined; dir?: string | undefined },
  env: Readonly<Record<string, string | undefined>>,
): Connection {
  const dir = flags.dir ?? DEFAULT_CLUSTER_DIR;
  const given = flags.url ?? (env.CONCORD_URL || undefined);
  const secretGiven = env.CONCORD_OPERATOR_SECRET || undefined;
  // The cluster file is read only for what was not given.
  const cluster =
    given === undefined || secretGiven === undefined ? readClusterFile(dir) : undefined;
  const url = given ?? cluster?.coordinator.url;
  if (url === undefined)
    throw new UsageError(
      `no coordinator to talk to: give --url <url> or set CONCORD_URL, or start a local cluster (npm run cluster -- start) whose state folder is ${dir} (--dir)`,
    );
  const secret = secretGiven ?? (cluster ? operatorSecretOf(cluster, "coordinator") : undefined);
  if (secret === undefined)
    throw new UsageError(
      "no operator secret: set CONCORD_OPERATOR_SECRET to the coordinator's operator secret",
    );
  if (!/^https?:\/\/[^/]+/.test(url))
    throw new UsageError(`--url / CONCORD_URL must be an http(s) URL, got ${JSON.stringify(url)}`);
  return { url: url.replace(/\/+$/, ""), secret };
}
