/** Coordinator process: configuration, the durable-log check, recovery, then the HTTP API. */
import { checkParticipantSecrets, loadConfig, coordinatorEnvSchema } from "../shared/config.js";
import { mountAdminRoutes } from "../shared/admin-routes.js";
import { DurableLog } from "../shared/durable-log.js";
import { COORDINATOR_FAILPOINTS, Failpoints } from "../shared/failpoints.js";
import { runMain } from "../shared/process-main.js";
import { createHttpClient } from "../shared/http-client.js";
import { createApp, finishApp, listen } from "../shared/http-server.js";
import { createLogger } from "../shared/logger.js";
import { connectRedis, ensureDurableRedis, warnOnLargeStreamNodes } from "../shared/redis-durability.js";
import { bankOperationsSchema } from "../shared/bank-operations.js";
import { mountApi } from "./api.js";
import { DEFAULT_ENGINE_OPTIONS, Engine } from "./engine.js";
import { ParticipantClient } from "./participant-client.js";
import { Recovery } from "./recovery.js";

async function main(): Promise<void> {
  const config = loadConfig(coordinatorEnvSchema);
  checkParticipantSecrets(config);
  const logger = createLogger("coordinator", config.CONCORD_LOG_LEVEL);
  const redis = connectRedis(config.CONCORD_REDIS_URL, logger);
  await ensureDurableRedis(redis, { acceptNonDurable: config.CONCORD_ACCEPT_NONDURABLE_REDIS, logger, role: "coordinator" });
  await warnOnLargeStreamNodes(redis, logger);
  const log = new DurableLog(redis, { namespace: "coordinator", retentionSeconds: config.CONCORD_RETENTION_SECONDS });
  const participants = new ParticipantClient(createHttpClient(), config.CONCORD_PARTICIPANTS, config.CONCORD_PARTICIPANT_REQUEST_TIMEOUT_MS, config.CONCORD_PARTICIPANT_SECRETS);
  const failpoints = new Failpoints(COORDINATOR_FAILPOINTS, (name, spec) => logger.warn({ failpoint: name, spec }, "failpoint fired"));
  failpoints.configure(config.CONCORD_FAILPOINTS);
  const engine = new Engine(log, participants, logger, failpoints, DEFAULT_ENGINE_OPTIONS);
  const recovery = new Recovery(log, participants, logger, (txid) => engine.active.has(txid), failpoints);

  const app = createApp();
  if (config.CONCORD_ADMIN_ENDPOINTS) mountAdminRoutes(app, failpoints, config.CONCORD_ADMIN_SECRET ?? "");
  mountApi(app, { engine, log, participants, logger, operationsSchema: config.CONCORD_OPERATIONS === "bank" ? bankOperationsSchema : undefined,
    apiKeys: config.CONCORD_API_KEYS, participantSecrets: config.CONCORD_PARTICIPANT_SECRETS, defaultTimeoutMs: config.CONCORD_DEFAULT_TIMEOUT_MS, maxTimeoutMs: config.CONCORD_MAX_TIMEOUT_MS });
  finishApp(app, logger);
  const server = await listen(app, config.CONCORD_HOST, config.CONCORD_PORT);
  recovery.start(config.CONCORD_RECOVERY_INTERVAL_MS);
  logger.info({ host: config.CONCORD_HOST, port: config.CONCORD_PORT, participants: [...config.CONCORD_PARTICIPANTS.keys()] }, "coordinator listening");

  const shutdown = (signal: string) => {
    logger.info({ signal }, "shutting down");
    recovery.stop();
    server.close();
    redis.disconnect();
    setTimeout(() => process.exit(0), 200).unref();
  };
  process.on("SIGTERM", () => shutdown("SIGTERM"));
  process.on("SIGINT", () => shutdown("SIGINT"));
}

runMain("coordinator", main);
