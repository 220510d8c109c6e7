/**
 * Graceful drain: how every Concord service stops on SIGTERM or SIGINT without cutting off work it
 * has accepted.
 *
 * A request is *accepted* when it passes the gate below, the first middleware of every app
 * (http-server.ts createApp): from then on the service owes it an answer. Once the drain begins,
 * the gate refuses every new request with 503 `draining` before any handler runs, so nothing was
 * done and the same request may be sent again, to another instance or later (a client resending
 * with its Idempotency-Key runs nothing twice). The probes and metrics (`/healthz`, `/readyz`,
 * `/metrics`) keep answering: `/readyz` says 503 from the first moment, so a load balancer stops
 * sending traffic here. Accepted requests, and the work a client waits for beyond them (the
 * coordinator's transactions), finish within a bound; what is still running at the bound is left
 * to recovery, which every one of them is built for: the coordinator's decision log and a
 * participant's prepared transactions survive the process. Only then are the stores closed.
 */
import type { Express, NextFunction, Request, Response } from "express";
import type { Server } from "node:http";
import { monotonicMs, sleep } from "./clock.js";
import { DrainingError } from "./errors.js";
import type { Logger } from "./logger.js";
import { z } from "zod";

/** Paths that keep answering while draining: they tell the world what the process is doing. */
const ALWAYS_ANSWERED = new Set(["/healthz", "/readyz", "/metrics"]);

/** How often the drain looks whether the work it waits for is done. */
const POLL_MS = 25;

/** After the listener closes, how long requests already on open connections may still be refused. */
const CONNECTION_GRACE_MS = 500;

/** The longest the stores may take to close after the drain: a stuck pool must not keep us up. */
const CLOSE_STORES_MS = 5000;

export class Drain {
  private startedAt: number | undefined;
  private server: Server | undefined;
  /** The answers owed to accepted requests. */
  private readonly owed = new Set<Response>();

  get draining(): boolean {
    return this.startedAt !== undefined;
  }

  /** Accepted requests not answered yet. */
  get requestsInFlight(): number {
    return this.owed.size;
  }

  /** The first middleware: counts accepted requests, refuses new ones once draining. */
  readonly gate = (req: Request, res: Response, next: NextFunction): void => {
    if (ALWAYS_ANSWERED.has(req.path)) {
      next();
      return;
    }
    if (this.draining) {
      // The client must not send its next request down this connection.
      res.setHeader("connection", "close");
      next(
        new DrainingError(
          "this service is stopping (drain): the request was not started and nothing was done; retry on another instance or later",
        ),
      );
      return;
    }
    this.owed.add(res);
    const settled = () => {
      this.owed.delete(res);
    };
    res.once("finish", settled);
    res.once("close", settled);
    next();
  };

  /**
   * Begins the drain: new requests are refused from now on, idle keep-alive connections are
   * closed, and every answer not yet sent closes its connection.
   */
  begin(server: Server): void {
    if (this.startedAt !== undefined) return;
    this.startedAt = monotonicMs();
    this.server = server;
    for (const res of this.owed) if (!res.headersSent) res.setHeader("connection", "close");
    server.closeIdleConnections();
  }

  /**
   * Waits until no accepted request is unanswered and `busy` names nothing, or `timeoutMs` has
   * passed. Returns what was still running then (empty lists: all done).
   */
  async settle(
    timeoutMs: number,
    busy: () => readonly string[] = () => [],
  ): Promise<{ requests: number; busy: string[] }> {
    const until = monotonicMs() + timeoutMs;
    for (;;) {
      // An answer sent before the drain began kept its connection alive: close it once idle.
      this.server?.closeIdleConnections();
      const left = { requests: this.owed.size, busy: [...busy()] };
      if ((left.requests === 0 && left.busy.length === 0) || monotonicMs() >= until) return left;
      await sleep(Math.min(POLL_MS, Math.max(1, until - monotonicMs())));
    }
  }

  /**
   * Waits (at most `graceMs`) until the server holds no connection but those of answers still
   * owed, closing idle ones.
   */
  async letConnectionsEnd(graceMs: number): Promise<void> {
    const server = this.server;
    if (!server) return;
    const until = monotonicMs() + graceMs;
    const count = () =>
      new Promise<number>((resolve) => {
        server.getConnections((err, n) => {
          resolve(err ? 0 : n);
        });
      });
    while (monotonicMs() < until) {
      server.closeIdleConnections();
      // Connections carrying an accepted request still running (the bound was reached) are not
      // waited for: only those that may carry a request not yet refused.
      if ((await count()) <= this.owed.size) return;
      await sleep(POLL_MS);
    }
  }

  /** Milliseconds since the drain began. */
  elapsedMs(): number {
    return this.startedAt === undefined ? 0 : Math.round(monotonicMs() - this.startedAt);
  }
}

const drains = new WeakMap<object, Drain>();

/** Puts the drain gate in front of everything else in `app` (createApp does it). */
export function installDrain(app: Express): Drain {
  const drain = new Drain();
  drains.set(app, drain);
  app.use(drain.gate);
  return drain;
}

/** The drain of an app made by createApp. */
export function drainOf(app: object): Drain {
  const drain = drains.get(app);
  if (!drain) throw new Error("this app has no drain gate: make it with createApp");
  return drain;
}

/** What `/readyz` answers (its RouteSpecs document it with this schema). */
export const readinessAnswerSchema = z.object({
  status: z.enum(["ready", "draining", "unavailable"]),
  role: z.string(),
  error: z.object({ code: z.string(), message: z.string() }).optional(),
});

/** The `/readyz` answers, for the coordinator's and the participants' RouteSpecs. */
export const READINESS_RESPONSES = {
  200: { description: "healthy and taking requests", schema: readinessAnswerSchema },
  503: {
    description: "stopping (drain: send no new requests) or a store is unreachable",
    schema: readinessAnswerSchema,
  },
} as const;

/** The body of `/readyz`: ready is healthy and not draining. */
export function readiness(
  app: object,
  healthy: boolean,
  role: string,
): { status: number; body: Record<string, unknown> } {
  if (drainOf(app).draining)
    return {
      status: 503,
      body: {
        status: "draining",
        role,
        error: { code: "draining", message: "this service is stopping; send no new requests" },
      },
    };
  if (!healthy)
    return {
      status: 503,
      body: {
        status: "unavailable",
        role,
        error: { code: "unavailable", message: "a store is unreachable; see /healthz" },
      },
    };
  return { status: 200, body: { status: "ready", role } };
}

export interface DrainPlan {
  app: Express;
  server: Server;
  logger: Logger;
  /** The bound (CONCORD_DRAIN_TIMEOUT_MS). */
  timeoutMs: number;
  /** Background work that must start nothing new (recovery, reloads); stopped when the drain begins. */
  stopBackground: () => void;
  /** Work clients wait for beyond the requests themselves, by id (the coordinator's transactions). */
  busy?: () => readonly string[];
  /** What is left at the bound belongs to whom: said in the log line. */
  leftTo: string;
  closeStores: () => Promise<void>;
}

/**
 * The whole drain: begin, let accepted work finish within the bound, leave the rest to recovery,
 * close the server and then the stores. Resolves when everything is closed.
 */
export async function drainAndClose(plan: DrainPlan): Promise<void> {
  const { server, logger } = plan;
  const drain = drainOf(plan.app);
  drain.begin(server);
  plan.stopBackground();
  logger.info(
    { timeoutMs: plan.timeoutMs, requestsInFlight: drain.requestsInFlight },
    "draining: new requests get 503, accepted ones finish",
  );
  const left = await drain.settle(plan.timeoutMs, plan.busy);
  const closed = new Promise<void>((resolve) => {
    server.close(() => {
      resolve();
    });
  });
  // No new connections from here. A request already on its way down an open one still gets its
  // 503 `draining` (which closes that connection) rather than a reset, for a short while.
  await drain.letConnectionsEnd(CONNECTION_GRACE_MS);
  server.closeAllConnections();
  await closed;
  const durationMs = drain.elapsedMs();
  if (left.requests === 0 && left.busy.length === 0)
    logger.info({ durationMs }, "drained: every accepted request was answered");
  else
    logger.warn(
      { durationMs, requestsCut: left.requests, txids: left.busy },
      `drain bound reached: what is still running is left to ${plan.leftTo}`,
    );
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<"late">((resolve) => {
    timer = setTimeout(() => {
      resolve("late");
    }, CLOSE_STORES_MS).unref();
  });
  const closing = plan.closeStores().then(() => "closed" as const);
  if ((await Promise.race([closing, late])) === "late")
    logger.warn({ afterMs: CLOSE_STORES_MS }, "the stores did not close in time; going on");
  clearTimeout(timer);
}

/**
 * On SIGTERM or SIGINT: run `drain` once, then exit 0. A second signal while draining is only
 * logged: the drain is bounded, and SIGKILL stops the process at once if really needed.
 */
export function drainOnSignals(logger: Logger, drain: () => Promise<void>): void {
  let draining = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (draining) {
      logger.warn({ signal }, "already draining (bounded by CONCORD_DRAIN_TIMEOUT_MS)");
      return;
    }
    draining = true;
    logger.info({ signal }, "shutting down");
    drain()
      .catch((err: unknown) => {
        logger.error({ err }, "drain failed; exiting");
      })
      .finally(() => process.exit(0));
  };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);
}
