/**
 * `startParticipant`: the one way to run an application as a Concord participant. It owns all
 * the wiring an application must not get wrong: the two PostgreSQL pools and the checks that
 * PostgreSQL can prepare, the durable journal in Redis, the framework's and the application's
 * migrations, signed 2PC routes, the published operation schema, recovery of transactions in
 * doubt (it cannot be left out: a prepared transaction nobody finishes holds its locks
 * forever), peers for cooperative termination, and shutdown.
 */
import type { Server } from "node:http";
import type { Express } from "express";
import type { AddressInfo } from "node:net";
import type { Redis } from "ioredis";
import type pg from "pg";
import {
  checkPeerSecrets,
  isolationProblems,
  loadConfig,
  participantEnvSchema,
  type ParticipantConfig,
} from "../../shared/config.js";
import { DurableLog } from "../../shared/durable-log.js";
import type { IsolationPolicy } from "../../shared/isolation.js";
import { createApp, finishApp, listen } from "../../shared/http-server.js";
import { drainAndClose, drainOnSignals } from "../../shared/drain.js";
import { createLogger, type Logger } from "../../shared/logger.js";
import {
  connectRedis,
  ensureDurableRedis,
  warnOnLargeStreamNodes,
} from "../../shared/redis-durability.js";
import { mountAdminRoutes } from "../../shared/admin-routes.js";
import { Failpoints, PARTICIPANT_FAILPOINTS } from "../../shared/failpoints.js";
import { Authenticator } from "../../shared/auth.js";
import type { Application } from "./application.js";
import { mountTwoPhaseRoutes } from "./http.js";
import { mountPreparedRoute } from "./prepared-route.js";
import { Participant } from "./participant.js";
import {
  createPool,
  ensurePreparedTransactions,
  FRAMEWORK_MIGRATIONS,
  migrate,
} from "./pg-store.js";
import { mountDescriptorRoutes, openApiOptions } from "./descriptor-routes.js";
import { mountOpenApi } from "../../shared/openapi.js";
import { schemaLosses } from "./schema-losses.js";
import type { ParticipantObserver } from "./participant-events.js";
import { startRecovery } from "./start-recovery.js";
import { ParticipantDirectory } from "../../shared/participant-directory.js";
// --- metrics (issue 13) ---
import { mountMetricsRoute } from "../../shared/metrics-route.js";
import {
  createParticipantMetrics,
  metricsObserver,
  preparedCounter,
  type ParticipantMetrics,
} from "./participant-metrics.js";
// --- end metrics ---

export interface StartParticipantOptions<Ops> {
  application: Application<Ops>;
  /**
   * Settings by their environment names (CONCORD_PARTICIPANT_NAME, CONCORD_DATABASE_URL, ...:
   * README "Configuration"), over `env`. Checked like the environment: a wrong value refuses
   * to start and says what to fix.
   */
  config?: Readonly<Record<string, string | undefined>>;
  /** The environment read under `config` (default process.env; `{}` reads nothing from it). */
  env?: Readonly<Record<string, string | undefined>>;
  /** Drain and exit 0 on SIGTERM and SIGINT (default true); without it, call `stop()` yourself. */
  handleSignals?: boolean;
  /**
   * Told of every 2PC message handled, after its answer: vote or acknowledgement, reason,
   * duration (participant-events.ts). The hook for metrics and audit; it cannot change an answer.
   */
  onEvent?: ParticipantObserver;
}

export interface RunningParticipant {
  name: string;
  /** Where it listens, e.g. http://127.0.0.1:7104. */
  url: string;
  server: Server;
  logger: Logger;
  /**
   * Drains (shared/drain.ts): new requests get 503 `draining`, accepted ones finish within
   * CONCORD_DRAIN_TIMEOUT_MS, recovery stops; then the server and the stores close.
   */
  stop(): Promise<void>;
}

/** Where the participant keeps its state: PostgreSQL (two pools) and the journal in Redis. */
export interface Stores {
  pool: pg.Pool;
  decisionPool: pg.Pool;
  /** PostgreSQL's max_prepared_transactions, checked against the pool size. */
  maxPrepared: number;
  redis: Redis;
  journal: DurableLog;
}

/** Opens the stores, refusing to start on a PostgreSQL or Redis that cannot keep a promise. */
async function openStores(
  config: ParticipantConfig,
  name: string,
  logger: Logger,
): Promise<Stores> {
  const pool = createPool(config.CONCORD_DATABASE_URL, config.CONCORD_PG_POOL_SIZE, logger, {
    indexScans: true,
  });
  // Phase-2 statements must not wait forever on a row lock (a tombstone behind a prepared row).
  const decisionPool = createPool(
    config.CONCORD_DATABASE_URL,
    config.CONCORD_PG_DECISION_POOL_SIZE,
    logger,
    { lockTimeoutMs: 5000 },
  );
  const maxPrepared = await ensurePreparedTransactions(pool, config.CONCORD_PG_POOL_SIZE, logger);
  const redis = connectRedis(config.CONCORD_REDIS_URL, logger);
  await ensureDurableRedis(redis, {
    acceptNonDurable: config.CONCORD_ACCEPT_NONDURABLE_REDIS,
    logger,
    role: `participant ${name}`,
  });
  await warnOnLargeStreamNodes(redis, logger);
  const journal = new DurableLog(redis, {
    namespace: `participant:${name}`,
    retentionSeconds: config.CONCORD_RETENTION_SECONDS,
  });
  return { pool, decisionPool, maxPrepared, redis, journal };
}

async function closeStores(stores: Stores): Promise<void> {
  stores.redis.disconnect();
  await Promise.allSettled([stores.pool.end(), stores.decisionPool.end()]);
}

function isolationPolicyOf(config: ParticipantConfig): IsolationPolicy {
  return { default: config.CONCORD_ISOLATION_DEFAULT, floor: config.CONCORD_ISOLATION_FLOOR };
}

function configureFailpoints(config: ParticipantConfig, logger: Logger): Failpoints {
  const failpoints = new Failpoints(PARTICIPANT_FAILPOINTS, (fp, spec) => {
    logger.warn({ failpoint: fp, spec }, "failpoint fired");
  });
  failpoints.configure(config.CONCORD_FAILPOINTS);
  return failpoints;
}

function createParticipant<Ops>(
  config: ParticipantConfig,
  stores: Stores,
  application: Application<Ops>,
  logger: Logger,
  failpoints: Failpoints,
  observe: ParticipantObserver | undefined,
): Participant<Ops> {
  return new Participant(
    {
      name: config.CONCORD_PARTICIPANT_NAME,
      lockTimeoutMs: config.CONCORD_LOCK_TIMEOUT_MS,
      statementTimeoutMs: config.CONCORD_STATEMENT_TIMEOUT_MS,
      preparedLimit: Math.max(1, stores.maxPrepared - config.CONCORD_PREPARED_RESERVE),
      // A few connections of the pool stay for PREPAREs that do not wait (see concord_lock_keys).
      maxWaiters: Math.max(1, config.CONCORD_PG_POOL_SIZE - 4),
      isolation: isolationPolicyOf(config),
      observe,
    },
    stores.pool,
    stores.decisionPool,
    stores.journal,
    application,
    logger,
    failpoints,
  );
}

/** Mounts the 2PC, descriptor, application and (when enabled) admin routes, then listens. */
async function serveHttp<Ops>(
  config: ParticipantConfig,
  parts: {
    stores: Stores;
    participant: Participant<Ops>;
    application: Application<Ops>;
    failpoints: Failpoints;
    logger: Logger;
    peers: ParticipantDirectory;
    metrics: ParticipantMetrics;
  },
  recoveryPasses: () => number,
): Promise<{ server: Server; app: Express }> {
  const { stores, participant, application, failpoints, logger, metrics } = parts;
  const name = config.CONCORD_PARTICIPANT_NAME;
  const app = createApp({ logger, metrics });
  // The coordinator signs with the secret it shares with us alone; each peer with the secret of
  // its pair with us, so no participant can sign as another.
  const auth = new Authenticator({
    audience: name,
    coordinatorSecret: config.CONCORD_PARTICIPANT_SECRET,
    peerSecrets: parts.peers.secrets,
    adminSecret: config.CONCORD_ADMIN_SECRET,
    operatorSecret: config.CONCORD_OPERATOR_SECRET,
  });
  const { pool, decisionPool, journal } = stores;
  mountDescriptorRoutes(app, auth, {
    name,
    application,
    pool,
    logger,
    isolation: isolationPolicyOf(config),
  });
  mountTwoPhaseRoutes(app, auth, participant, { pool: decisionPool, journal, logger });
  mountMetricsRoute(app, auth, metrics.registry);
  // Operators (issue 13): what is prepared here, for the coordinator's in-doubt view.
  mountPreparedRoute(app, auth, name, { pool: decisionPool, journal });
  application.mountRoutes?.(app, { pool, logger, auth });
  if (config.CONCORD_ADMIN_ENDPOINTS)
    mountAdminRoutes(app, auth, failpoints, config.CONCORD_ADMIN_SECRET, recoveryPasses);
  // OpenAPI: after every other route (it is built per request, so later ones are in it too).
  mountOpenApi(app, auth, openApiOptions(name, application));
  finishApp(app, logger);
  const server = await listen(app, config.CONCORD_HOST, config.CONCORD_PORT, {
    maxConnections: config.CONCORD_MAX_CONNECTIONS,
    requestTimeoutMs: config.CONCORD_REQUEST_TIMEOUT_MS,
  });
  logger.info(
    { host: config.CONCORD_HOST, port: config.CONCORD_PORT, application: application.name },
    "participant listening",
  );
  return { server, app };
}

/**
 * Every observer is told each event, each on its own: one that throws (logged) neither stops the
 * others nor changes the answer.
 */
function observers(
  metrics: ParticipantObserver,
  user: ParticipantObserver | undefined,
  logger: Logger,
): ParticipantObserver {
  return (event) => {
    for (const observe of user ? [metrics, user] : [metrics]) {
      try {
        observe(event);
      } catch (err) {
        logger.warn({ txid: event.txid, err: String(err) }, "participant observer failed");
      }
    }
  };
}

/** A store connection that fails (Redis reconnecting, an idle PostgreSQL client dropped). */
function countStoreErrors(stores: Stores, metrics: ParticipantMetrics): void {
  stores.redis.on("error", () => {
    metrics.storeErrors.inc({ store: "redis", operation: "connection" });
  });
  for (const pool of [stores.pool, stores.decisionPool])
    pool.on("error", () => {
      metrics.storeErrors.inc({ store: "postgres", operation: "connection" });
    });
}

/**
 * Starts `application` as a participant: checks the configuration and the stores, migrates,
 * listens, and starts recovery. Rejects with a message that says what to fix when the
 * configuration or a store cannot be trusted (prepared transactions disabled, a Redis that
 * does not keep what it is told).
 */
export async function startParticipant<Ops>(
  options: StartParticipantOptions<Ops>,
): Promise<RunningParticipant> {
  const { application } = options;
  const config = loadConfig(
    participantEnvSchema,
    { ...(options.env ?? process.env), ...(options.config ?? {}) },
    isolationProblems,
  );
  checkPeerSecrets(config);
  const name = config.CONCORD_PARTICIPANT_NAME;
  const logger = createLogger(`participant:${name}`, config.CONCORD_LOG_LEVEL);
  const stores = await openStores(config, name, logger);
  try {
    await migrate(stores.pool, [...FRAMEWORK_MIGRATIONS, ...application.migrations]);
  } catch (err) {
    await closeStores(stores);
    throw err;
  }
  const losses = schemaLosses(application.operations);
  if (losses.length > 0)
    logger.warn(
      { application: application.name, at: losses },
      "the operations schema refines or transforms where JSON Schema cannot say it: the coordinator lets such operations through and this participant refuses them only after the transaction is logged; say it with patterns and bounds instead",
    );
  const failpoints = configureFailpoints(config, logger);
  // --- metrics (issue 13): always observed; the application's onEvent is told as well ---
  const metrics = createParticipantMetrics(name, preparedCounter(stores.pool, name));
  countStoreErrors(stores, metrics);
  const observe = observers(metricsObserver(metrics), options.onEvent, logger);
  // --- end metrics ---
  const participant = createParticipant(config, stores, application, logger, failpoints, observe);
  const peers =
    config.CONCORD_PEERS_FILE === undefined
      ? ParticipantDirectory.fromMaps(config.CONCORD_PEERS, config.CONCORD_PEER_SECRETS)
      : ParticipantDirectory.watching(config.CONCORD_PEERS_FILE, "peers", logger);
  const parts = { stores, participant, application, failpoints, logger, peers, metrics };
  const { server, app } = await serveHttp(config, parts, () => recovery.passes);
  // Recovery starts once we listen: peers in doubt may need our answers to finish theirs.
  const recovery = startRecovery(config, {
    ...parts,
    journal: stores.journal,
    onAction: (action, source) => {
      metrics.recoveryActions.inc({ action, source });
    },
  });
  // ---- drain (shared/drain.ts): stop() and SIGTERM/SIGINT ----
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopping ??= drainAndClose({
      app,
      server,
      logger,
      timeoutMs: config.CONCORD_DRAIN_TIMEOUT_MS,
      stopBackground: () => {
        recovery.stop();
        peers.stop();
      },
      leftTo:
        "recovery (a transaction prepared here stays prepared in PostgreSQL; this participant's recovery resolves it at its next start)",
      closeStores: () => closeStores(stores),
    }));
  if (options.handleSignals ?? true) drainOnSignals(logger, stop);
  // ---- end drain ----
  const address = server.address() as AddressInfo;
  return { name, url: `http://${config.CONCORD_HOST}:${address.port}`, server, logger, stop };
}
