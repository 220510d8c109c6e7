/**
 * Mounts the operators' routes on the coordinator (operator-routes.ts has the specs and shapes):
 * the in-doubt view, the abort and retry actions, and the stats snapshot. Callers hold the
 * operator secret; every input is checked before anything is read or written.
 */
import type { Express } from "express";
import type { Authenticator } from "../shared/auth.js";
import type { DurableLog } from "../shared/durable-log.js";
import { parseWith } from "../shared/http-server.js";
import { mountRoute } from "../shared/routes.js";
import type { CoordinatorMetrics } from "./coordinator-metrics.js";
import { abortTransaction, retryTransaction } from "./operator-actions.js";
import { inDoubt } from "./operator-in-doubt.js";
import { OPERATOR_ROUTES as R } from "./operator-routes.js";
import { statsSnapshot } from "./operator-stats.js";
import type { ParticipantClient } from "./participant-client.js";
import type { Recovery } from "./recovery.js";

export interface OperatorApiDeps {
  auth: Authenticator;
  log: DurableLog;
  participants: ParticipantClient;
  recovery: Pick<Recovery, "finish">;
  /** The coordinator's metrics, when the process keeps them; without, the stats are zeros. */
  metrics?: CoordinatorMetrics | undefined;
  /** How long the in-doubt view waits for each participant's prepared list. */
  fanOutTimeoutMs: number;
}

export function mountOperatorApi(app: Express, deps: OperatorApiDeps): void {
  mountRoute(app, deps.auth, R.inDoubt, async (req, res) => {
    const { limit } = parseWith(R.inDoubt.query, req.query, "query");
    res.json(await inDoubt(deps, limit));
  });

  for (const [spec, act] of [
    [R.abort, abortTransaction],
    [R.retry, retryTransaction],
  ] as const) {
    mountRoute(app, deps.auth, spec, async (req, res) => {
      const txid = parseWith(spec.params.txid, req.params.txid, "params.txid");
      parseWith(spec.body, req.body ?? {}, "body");
      res.json(await act(deps, txid));
    });
  }

  mountRoute(app, deps.auth, R.stats, async (req, res) => {
    // An empty query string only: a misspelt filter is refused rather than silently ignored.
    parseWith(R.stats.query, req.query, "query");
    res.json(await statsSnapshot(deps.log, deps.metrics));
  });
}
