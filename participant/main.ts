/** Participant process: configuration, start-up checks, migrations, then the HTTP API. */
import type { Server } from "node:http";
import type { Redis } from "ioredis";
import type pg from "pg";
import {
  checkPeerSecrets,
  loadConfig,
  participantEnvSchema,
  type ParticipantConfig,
} from "../shared/config.js";
import { DurableLog } from "../shared/durable-log.js";
import { runMain } from "../shared/process-main.js";
import { createApp, finishApp, listen } from "../shared/http-server.js";
import { createLogger, type Logger } from "../shared/logger.js";
import {
  connectRedis,
  ensureDurableRedis,
  warnOnLargeStreamNodes,
} from "../shared/redis-durability.js";
import { bankApplication } from "./bank/bank-application.js";
import { mountAdminRoutes } from "../shared/admin-routes.js";
import { Failpoints, PARTICIPANT_FAILPOINTS } from "../shared/failpoints.js";
import { Authenticator, COORDINATOR_KEY_ID, signerFor } from "../shared/auth.js";
import { createHttpClient } from "../shared/http-client.js";
import type { Application } from "./framework/application.js";
import { mountTwoPhaseRoutes } from "./framework/http.js";
import { ParticipantRecovery } from "./framework/recovery.js";
import { Participant } from "./framework/participant.js";
import {
  createPool,
  ensurePreparedTransactions,
  FRAMEWORK_MIGRATIONS,
  migrate,
} from "./framework/pg-store.js";

/** Where the participant keeps its state: PostgreSQL (two pools) and the journal in Redis. */
interface Stores {
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
  const pool = createPool(config.CONCORD_DATABASE_URL, config.CONCORD_PG_POOL_SIZE, logger);
  // Phase-2 statements must not wait forever on a row lock (a tombstone behind a prepared row).
  const decisionPool = createPool(
    config.CONCORD_DATABASE_URL,
    config.CONCORD_PG_DECISION_POOL_SIZE,
    logger,
    5000,
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

function configureFailpoints(config: ParticipantConfig, logger: Logger): Failpoints {
  const failpoints = new Failpoints(PARTICIPANT_FAILPOINTS, (fp, spec) => {
    logger.warn({ failpoint: fp, spec }, "failpoint fired");
  });
  failpoints.configure(config.CONCORD_FAILPOINTS);
  return failpoints;
}

function createParticipant<Ops>(
  config: ParticipantConfig,
  name: string,
  stores: Stores,
  application: Application<Ops>,
  logger: Logger,
  failpoints: Failpoints,
): Participant<Ops> {
  return new Participant(
    {
      name,
      lockTimeoutMs: config.CONCORD_LOCK_TIMEOUT_MS,
      statementTimeoutMs: config.CONCORD_STATEMENT_TIMEOUT_MS,
      preparedLimit: Math.max(1, stores.maxPrepared - config.CONCORD_PREPARED_RESERVE),
      // A few connections of the pool stay for PREPAREs that do not wait (see concord_lock_keys).
      maxWaiters: Math.max(1, config.CONCORD_PG_POOL_SIZE - 4),
    },
    stores.pool,
    stores.decisionPool,
    stores.journal,
    application,
    logger,
    failpoints,
  );
}

/** Mounts the 2PC, application and (when enabled) admin routes, then listens. */
async function serveHttp<Ops>(
  config: ParticipantConfig,
  name: string,
  parts: {
    stores: Stores;
    participant: Participant<Ops>;
    application: Application<Ops>;
    failpoints: Failpoints;
    logger: Logger;
    peerSecrets: Map<string, string>;
  },
  recoveryPasses: () => number,
): Promise<Server> {
  const { stores, participant, application, failpoints, logger, peerSecrets } = parts;
  const app = createApp();
  // The coordinator signs with the secret it shares with us alone; each peer with the secret of
  // its pair with us, so no participant can sign as another.
  const auth = new Authenticator({
    audience: name,
    coordinatorSecret: config.CONCORD_PARTICIPANT_SECRET,
    peerSecrets,
    adminSecret: config.CONCORD_ADMIN_SECRET,
  });
  const { pool, decisionPool, journal } = stores;
  mountTwoPhaseRoutes(app, auth, participant, { pool: decisionPool, journal, logger });
  application.mountRoutes?.(app, { pool, logger, auth });
  if (config.CONCORD_ADMIN_ENDPOINTS)
    mountAdminRoutes(app, auth, failpoints, config.CONCORD_ADMIN_SECRET, recoveryPasses);
  finishApp(app, logger);
  const server = await listen(app, config.CONCORD_HOST, config.CONCORD_PORT, {
    maxConnections: config.CONCORD_MAX_CONNECTIONS,
    requestTimeoutMs: config.CONCORD_REQUEST_TIMEOUT_MS,
  });
  logger.info(
    { host: config.CONCORD_HOST, port: config.CONCORD_PORT, application: application.name },
    "participant listening",
  );
  return server;
}

/** Resolves the transactions left in doubt, asking the coordinator and then the peers. */
function startRecovery<Ops>(
  config: ParticipantConfig,
  name: string,
  parts: {
    participant: Participant<Ops>;
    journal: DurableLog;
    logger: Logger;
    failpoints: Failpoints;
    peerSecrets: Map<string, string>;
  },
): ParticipantRecovery<Ops> {
  const { peerSecrets } = parts;
  const recovery = new ParticipantRecovery(
    parts.participant,
    parts.journal,
    createHttpClient({ maxSockets: 16 }),
    parts.logger,
    parts.failpoints,
    {
      coordinatorUrl: config.CONCORD_COORDINATOR_URL,
      peers: config.CONCORD_PEERS ?? new Map(),
      signForCoordinator: signerFor({
        secret: config.CONCORD_PARTICIPANT_SECRET,
        keyId: name,
        audience: COORDINATOR_KEY_ID,
      }),
      signForPeer: (peer) => {
        const secret = peerSecrets.get(peer);
        return secret === undefined
          ? undefined
          : signerFor({ secret, keyId: name, audience: peer });
      },
      minAgeMs: config.CONCORD_RECOVERY_MIN_AGE_MS,
      requestTimeoutMs: 2000,
    },
  );
  recovery.start(config.CONCORD_RECOVERY_INTERVAL_MS);
  return recovery;
}

/** On SIGTERM or SIGINT: stop recovery, the server and the stores, then exit. */
function exitOnSignals(
  recovery: { stop(): void },
  server: Server,
  stores: Stores,
  logger: Logger,
): void {
  const shutdown = (signal: string) => {
    logger.info({ signal }, "shutting down");
    recovery.stop();
    server.close();
    stores.redis.disconnect();
    void stores.pool.end();
    void stores.decisionPool.end();
    setTimeout(() => process.exit(0), 200).unref();
  };
  process.on("SIGTERM", () => {
    shutdown("SIGTERM");
  });
  process.on("SIGINT", () => {
    shutdown("SIGINT");
  });
}

async function main(): Promise<void> {
  const config = loadConfig(participantEnvSchema);
  checkPeerSecrets(config);
  const name = config.CONCORD_PARTICIPANT_NAME;
  const logger = createLogger(`participant:${name}`, config.CONCORD_LOG_LEVEL);
  const stores = await openStores(config, name, logger);

  const application = bankApplication;
  await migrate(stores.pool, [...FRAMEWORK_MIGRATIONS, ...application.migrations]);
  const failpoints = configureFailpoints(config, logger);
  const participant = createParticipant(config, name, stores, application, logger, failpoints);

  const peerSecrets = config.CONCORD_PEER_SECRETS ?? new Map<string, string>();
  const parts = { stores, participant, application, failpoints, logger, peerSecrets };
  const server = await serveHttp(config, name, parts, () => recovery.passes);
  // Recovery starts once we listen: peers in doubt may need our answers to finish theirs.
  const recovery = startRecovery(config, name, { ...parts, journal: stores.journal });
  exitOnSignals(recovery, server, stores, logger);
}

runMain("participant", main);
