/**
 * The Redis ACL of a Concord service: its own user, limited to its own keys and to the commands
 * it runs. The local cluster (scripts/cluster/redis.ts) and docker-compose.yml both use these
 * rules (a test checks the compose file against them), so a service that can open one Redis can
 * touch nothing there but its own log, and nothing at all in another service's Redis.
 *
 * Scripts run with their caller's permissions: the commands the Lua scripts call (shared/lua)
 * must be listed too, and keys they touch must match the pattern.
 */

/** Every command a service sends, and every command its Lua scripts call. */
export const SERVICE_REDIS_COMMANDS = [
  // Connection and start-up: ioredis's ready check (INFO), health checks, durability check.
  "ping",
  "info",
  "config|get",
  "quit",
  // Scripts: ioredis calls EVALSHA, falls back to EVAL, and checks/loads scripts before pipelines.
  "evalsha",
  "eval",
  "script|load",
  "script|exists",
  // Reads and writes of DurableLog outside scripts.
  "hgetall",
  "xrange",
  "time",
  "zscan",
  "zcard",
  "zrevrange",
  "set",
  "get",
  // The archiver and the listings (coordinator/archiver.ts, coordinator/history-walk.ts).
  "zrevrangebyscore",
  // Inside the Lua scripts.
  "exists",
  "expire",
  "hget",
  "hmget",
  "hset",
  "hsetnx",
  "xadd",
  "zadd",
  "zrangebyscore",
  "zrem",
  "zremrangebyscore",
  "del",
] as const;

/** The key namespace of a durable log (durable-log.ts): "coordinator" or "participant:<name>". */
export function logNamespace(service: "coordinator" | { participant: string }): string {
  return service === "coordinator" ? "coordinator" : `participant:${service.participant}`;
}

/**
 * The ACL rules (after `user <name> on <password>`) for the service whose log lives under
 * `namespace`: its keys only (every key of a log starts `{concord:<namespace>:`), no Pub/Sub
 * channels, and only SERVICE_REDIS_COMMANDS.
 */
export function serviceAclRules(namespace: string): string[] {
  return [
    `~{concord:${namespace}:*`,
    "resetchannels",
    "-@all",
    ...SERVICE_REDIS_COMMANDS.map((c) => `+${c}`),
  ];
}

/**
 * The operators' user of a Redis (backups, the checker, the benchmark's memory readings) is
 * Redis's `default` user, with a password and every right. It cannot be switched off or
 * narrowed: Redis 7.0 replays the AOF as the default user, and checks its ACL at each EXEC, so a
 * restricted default user makes Redis drop every MULTI/EXEC block (each script's writes) while
 * loading the AOF after a crash. Measured: with `user default off`, a decision written through a
 * script was gone after kill -9 and restart, and the log said only "== CRITICAL == ... NOPERM".
 */
export const ADMIN_REDIS_USER = "default";
export const ADMIN_ACL_RULES = ["~*", "&*", "+@all"] as const;

/** The Redis user name of a service: "coordinator", or the participant's name. */
export function redisUserOf(service: "coordinator" | { participant: string }): string {
  return service === "coordinator" ? "coordinator" : service.participant;
}
