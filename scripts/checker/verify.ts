/** Checks the invariants of docs/design.md §5 against the cluster described in a state folder. */
import { readClusterFile } from "../cluster/cluster-file.js";
import { readClientRecord } from "./client-record.js";
import { gatherFacts } from "./gather.js";
import { checkInvariants, type Report } from "./invariants.js";

/** Thrown when the state folder holds no cluster.json: there is nothing to check. */
export class NoClusterError extends Error {
  constructor(readonly dir: string) {
    super(`no cluster in ${dir}; start one with: npm run cluster -- start --dir ${dir}`);
    this.name = "NoClusterError";
  }
}

export async function verifyCluster(
  dir: string,
  opts: { clientRecordFile?: string } = {},
): Promise<Report> {
  const cluster = readClusterFile(dir);
  if (!cluster) throw new NoClusterError(dir);
  // Read before touching the cluster, so a malformed record fails at once.
  const clientRecord =
    opts.clientRecordFile === undefined ? undefined : readClientRecord(opts.clientRecordFile);
  return checkInvariants(await gatherFacts(cluster, clientRecord));
}
