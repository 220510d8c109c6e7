import { Redis } from "ioredis";
import type { Logger } from "./logger.js";
import { UnsafeConfigurationError } from "./errors.js";

/**
 * A decision is only a commit point if it survives a crash of Redis. Redis 7.0 has no WAITAOF,
 * so the only guarantee is AOF with `appendfsync always`: every write is fsynced before the
 * reply. Anything less can lose a decision a client was told about, so we refuse to start
 * unless the operator has explicitly accepted that risk, and then we say so on every start.
 */
export async function ensureDurableRedis(
  redis: Redis,
  p: { acceptNonDurable: boolean; logger: Logger; role: string },
): Promise<void> {
  let appendonly: string | undefined;
  let appendfsync: string | undefined;
  try {
    const [, a] = await redis.config("GET", "appendonly");
    const [, f] = await redis.config("GET", "appendfsync");
    appendonly = a;
    appendfsync = f;
  } catch (err) {
    appendonly = undefined;
    p.logger.warn({ err: String(err) }, "cannot read Redis configuration (CONFIG GET refused)");
  }
  if (appendonly === "yes" && appendfsync === "always") return;
  const found =
    appendonly === undefined
      ? "its configuration could not be read"
      : `it has appendonly=${appendonly}, appendfsync=${appendfsync}`;
  const message =
    `the ${p.role}'s Redis is not durable: ${found}. A crash of Redis could lose decisions that clients were told about. ` +
    `Start Redis with --appendonly yes --appendfsync always, or set CONCORD_ACCEPT_NONDURABLE_REDIS=true to accept losing decisions.`;
  if (!p.acceptNonDurable) throw new UnsafeConfigurationError(message);
  p.logger.warn(
    { appendonly, appendfsync },
    `RUNNING WITH A NON-DURABLE LOG (accepted by CONCORD_ACCEPT_NONDURABLE_REDIS): ${message}`,
  );
}

/**
 * Every transaction has a small event stream, and Redis 7.0 preallocates a whole stream node
 * for each: with the default 4096 bytes a finished transaction costs about 5.2 KB of memory
 * instead of 1.7 KB. Not a safety matter, so a warning, not a refusal.
 */
export async function warnOnLargeStreamNodes(redis: Redis, logger: Logger): Promise<void> {
  try {
    const [, value] = await redis.config("GET", "stream-node-max-bytes");
    if (Number(value) > 1024)
      logger.warn(
        { streamNodeMaxBytes: Number(value) },
        "Redis stream-node-max-bytes is large: each transaction's event stream takes about that much memory; 512 is enough",
      );
  } catch {
    // CONFIG may be disabled on a managed Redis; the setting is then the operator's business.
  }
}

/** One connection per process is enough: Redis is single-threaded and ioredis pipelines. */
export function connectRedis(url: string, logger: Logger): Redis {
  const redis = new Redis(url, {
    // Fail calls quickly while Redis is down instead of queueing them without bound: the engine
    // must know that a decision was not written.
    maxRetriesPerRequest: 1,
    enableOfflineQueue: true,
    connectTimeout: 2000,
    retryStrategy: (times) => Math.min(50 * times, 1000),
    // Commands issued in the same tick leave in one write, and Redis fsyncs the AOF once for all
    // of them before it replies (group commit): fewer syscalls and fsyncs per transaction.
    enableAutoPipelining: true,
  });
  // Without a listener a lost connection would be an uncaught error; ioredis reconnects itself.
  let lastLogged = 0;
  redis.on("error", (err: Error) => {
    if (Date.now() - lastLogged > 5000) logger.warn({ err: err.message }, "Redis connection error");
    lastLogged = Date.now();
  });
  return redis;
}
