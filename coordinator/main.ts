/** Coordinator process: configuration, the durable-log check, recovery, then the HTTP API. */
import type { Express } from "express";
import {
  checkParticipantSecrets,
  coordinatorEnvSchema,
  loadConfig,
  missingParticipantsSource,
} from "../shared/config.js";
import { mountAdminRoutes } from "../shared/admin-routes.js";
import { DurableLog } from "../shared/durable-log.js";
import { COORDINATOR_FAILPOINTS, Failpoints } from "../shared/failpoints.js";
import { runMain } from "../shared/process-main.js";
import { drainAndClose, drainOnSignals, type DrainPlan } from "../shared/drain.js";
import type { Redis } from "ioredis";
import { createHttpClient } from "../shared/http-client.js";
import { createApp, finishApp, listen } from "../shared/http-server.js";
import { mountOpenApi } from "../shared/openapi.js";
import { createLogger, type Logger } from "../shared/logger.js";
import {
  connectRedis,
  ensureDurableRedis,
  warnOnLargeStreamNodes,
} from "../shared/redis-durability.js";
import { Authenticator } from "../shared/auth.js";
import { HotKeys } from "./hot-keys.js";
import { ClientLimits } from "./client-limits.js";
import { mountApi } from "./api.js";
import { mountConsole } from "./console/mount.js";
import { mountOperatorApi, type OperatorApiDeps } from "./operator-api.js";
import { DEFAULT_ENGINE_OPTIONS, Engine } from "./engine.js";
import { ParticipantClient } from "./participant-client.js";
import { Recovery } from "./recovery.js";
import { OperationCatalog } from "./operation-catalog.js";
import { ParticipantDirectory } from "../shared/participant-directory.js";
// --- metrics (issue 13) ---
import { mountMetricsRoute } from "../shared/metrics-route.js";
import { createCoordinatorMetrics, type CoordinatorMetrics } from "./coordinator-metrics.js";
import { metricsObserver } from "./coordinator-observer.js";
// --- end metrics ---
import { ArchiveStore } from "./archive-store.js";
import { Archiver } from "./archiver.js";

type CoordinatorConfig = ReturnType<typeof loadConfig<typeof coordinatorEnvSchema>>;

/**
 * The archive, when configured: finished transactions move there after their window in Redis,
 * and every read that may need them (listings, GET, inquiries, replays) looks there too. It is
 * not waited for: a PostgreSQL that is down delays archiving, never the coordinator's start.
 */
function openArchive(
  config: CoordinatorConfig,
  log: DurableLog,
  logger: Logger,
  metrics: Pick<CoordinatorMetrics, "storeErrors">,
) {
  const url = config.CONCORD_ARCHIVE_DATABASE_URL;
  if (url === undefined) return undefined;
  const store = ArchiveStore.open(url, logger);
  log.archive = store;
  const archiver = new Archiver(
    log,
    store,
    {
      afterMs: config.CONCORD_ARCHIVE_AFTER_SECONDS * 1000,
      intervalMs: config.CONCORD_ARCHIVE_INTERVAL_MS,
      batchSize: config.CONCORD_ARCHIVE_BATCH_SIZE,
    },
    logger,
    metrics,
  );
  return { store, archiver };
}

/** The decision log, on a Redis that is checked to keep what it is told (fsync on write). */
async function openLog(config: CoordinatorConfig, logger: Logger): Promise<DurableLog> {
  const redis = connectRedis(config.CONCORD_REDIS_URL, logger);
  await ensureDurableRedis(redis, {
    acceptNonDurable: config.CONCORD_ACCEPT_NONDURABLE_REDIS,
    logger,
    role: "coordinator",
  });
  await warnOnLargeStreamNodes(redis, logger);
  return new DurableLog(redis, {
    namespace: "coordinator",
    retentionSeconds: config.CONCORD_RETENTION_SECONDS,
  });
}

/**
 * The participants: who they are (from the environment, or a file reloaded when it changes),
 * how to reach them, and the operations schema each publishes.
 */
function openParticipants(config: CoordinatorConfig, logger: Logger) {
  const directory =
    config.CONCORD_PARTICIPANTS_FILE === undefined
      ? ParticipantDirectory.fromMaps(
          config.CONCORD_PARTICIPANTS,
          config.CONCORD_PARTICIPANT_SECRETS,
        )
      : ParticipantDirectory.watching(config.CONCORD_PARTICIPANTS_FILE, "participants", logger);
  const participants = new ParticipantClient(
    createHttpClient(),
    directory,
    config.CONCORD_PARTICIPANT_REQUEST_TIMEOUT_MS,
  );
  const catalog = new OperationCatalog(
    (name) => participants.describe(name),
    () => participants.names(),
    logger,
  );
  // Every answer names the participant's descriptor: a new one (an upgrade) is fetched at once.
  participants.onOperationsHash = (name, hash) => {
    catalog.noteHash(name, hash);
  };
  return { directory, participants, catalog };
}

// --- metrics (issue 13) ---
/** The coordinator's metrics, and the observer the engine, recovery and the API tell. */
function openMetrics(log: DurableLog, logger: Logger) {
  const metrics = createCoordinatorMetrics(() => log.activeCounts());
  log.redis.on("error", () => {
    metrics.storeErrors.inc({ store: "redis", operation: "connection" });
  });
  return { metrics, observer: metricsObserver(metrics, logger) };
}
// --- end metrics ---
/**
 * Operators (issue 13): the in-doubt view, abort and retry, stats, then the web console. The
 * metrics object is optional (give it once the coordinator keeps one; without it the stats are
 * zeros).
 */
function mountOperators(
  app: Express,
  config: CoordinatorConfig,
  deps: Omit<OperatorApiDeps, "fanOutTimeoutMs">,
): void {
  mountOperatorApi(app, {
    ...deps,
    fanOutTimeoutMs: Math.min(config.CONCORD_PARTICIPANT_REQUEST_TIMEOUT_MS, 5000),
  });
  // The web console for operators (coordinator/console/): its page, assets and login.
  mountConsole(app, deps.auth, config.CONCORD_OPERATOR_SECRET);
}

function clientLimits(config: CoordinatorConfig): ClientLimits {
  return new ClientLimits({
    maxInFlight: config.CONCORD_CLIENT_MAX_IN_FLIGHT,
    maxHeldMs: config.CONCORD_CLIENT_MAX_HELD_MS,
    ratePerSecond: config.CONCORD_CLIENT_RATE_PER_SECOND,
    rateBurst: config.CONCORD_CLIENT_RATE_BURST,
  });
}

function openFailpoints(config: CoordinatorConfig, logger: Logger): Failpoints {
  const failpoints = new Failpoints(COORDINATOR_FAILPOINTS, (name, spec) => {
    logger.warn({ failpoint: name, spec }, "failpoint fired");
  });
  failpoints.configure(config.CONCORD_FAILPOINTS);
  return failpoints;
}

async function main(): Promise<void> {
  const config = loadConfig(coordinatorEnvSchema, process.env, missingParticipantsSource);
  checkParticipantSecrets(config);
  const logger = createLogger("coordinator", config.CONCORD_LOG_LEVEL);
  const log = await openLog(config, logger);
  const redis = log.redis;
  const { directory, participants, catalog } = openParticipants(config, logger);
  const failpoints = openFailpoints(config, logger);
  const io = { log, participants, logger, failpoints, ...openMetrics(log, logger) };
  const engine = new Engine(io, {
    ...DEFAULT_ENGINE_OPTIONS,
    clientFaultStatus: (name, reason) => catalog.clientFaultStatus(name, reason),
  });
  const recovery = new Recovery(io, (txid) => engine.active.has(txid));
  const archive = openArchive(config, log, logger, io.metrics);

  const app = createApp({ logger, metrics: io.metrics });
  const auth = new Authenticator({
    audience: "coordinator",
    apiKeys: config.CONCORD_API_KEYS,
    adminSecret: config.CONCORD_ADMIN_SECRET,
    operatorSecret: config.CONCORD_OPERATOR_SECRET,
    participantSecrets: directory.secrets,
  });
  const limits = clientLimits(config);
  mountMetricsRoute(app, auth, io.metrics.registry);
  if (config.CONCORD_ADMIN_ENDPOINTS)
    mountAdminRoutes(app, auth, failpoints, config.CONCORD_ADMIN_SECRET, () => recovery.passes);
  mountApi(app, {
    engine,
    log,
    participants,
    logger,
    auth,
    limits,
    hotKeys: new HotKeys(),
    catalog,
    defaultTimeoutMs: config.CONCORD_DEFAULT_TIMEOUT_MS,
    maxTimeoutMs: config.CONCORD_MAX_TIMEOUT_MS,
    defaultMaxAttempts: config.CONCORD_RETRY_MAX_ATTEMPTS,
    archive: archive?.store,
  });
  // OpenAPI: after every other route (it is built per request, so later ones are in it too).
  mountOpenApi(app, auth, { title: "Concord coordinator" });
  mountOperators(app, config, { auth, log, participants, recovery, metrics: io.metrics });
  finishApp(app, logger);
  const server = await listen(app, config.CONCORD_HOST, config.CONCORD_PORT, {
    maxConnections: config.CONCORD_MAX_CONNECTIONS,
    requestTimeoutMs: config.CONCORD_REQUEST_TIMEOUT_MS,
  });
  recovery.start(config.CONCORD_RECOVERY_INTERVAL_MS);
  catalog.start(config.CONCORD_DESCRIPTOR_REFRESH_MS);
  archive?.archiver.start();
  logger.info(
    {
      host: config.CONCORD_HOST,
      port: config.CONCORD_PORT,
      participants: participants.names(),
      archive: archive ? `after ${config.CONCORD_ARCHIVE_AFTER_SECONDS} s` : "off",
    },
    "coordinator listening",
  );

  // ---- drain on SIGTERM/SIGINT (shared/drain.ts) ----
  const background = [recovery, catalog, directory, ...(archive ? [archive.archiver] : [])];
  const stores = { redis, archive: archive?.store };
  drainOnSignals(logger, () =>
    drainAndClose(drainPlan(config, { app, server, logger, engine, stores }, background)),
  );
  // ---- end drain ----
}

/**
 * How the coordinator drains: besides the requests, it waits for the transactions its engine
 * drives (a client waits for phase 2 too); at the bound they are in the decision log, for
 * recovery. The log closes last.
 */
function drainPlan(
  config: CoordinatorConfig,
  parts: Pick<DrainPlan, "app" | "server" | "logger"> & {
    engine: Engine;
    stores: { redis: Redis; archive: ArchiveStore | undefined };
  },
  background: { stop(): void }[],
): DrainPlan {
  return {
    app: parts.app,
    server: parts.server,
    logger: parts.logger,
    timeoutMs: config.CONCORD_DRAIN_TIMEOUT_MS,
    stopBackground: () => {
      for (const b of background) b.stop();
    },
    busy: () => [...parts.engine.active],
    leftTo:
      "recovery (they are in the decision log: another coordinator on it, or the next start, finishes them)",
    closeStores: async () => {
      await parts.stores.archive?.close();
      await parts.stores.redis.quit();
    },
  };
}

runMain("coordinator", main);
