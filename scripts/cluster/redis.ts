/**
 * A private Redis with the only durable setting we accept (AOF, fsync on every write) and one ACL
 * user per party: the service whose log it holds (its keys and commands only, shared/redis-acl.ts)
 * and the operators (the `default` user, with its own password: see ADMIN_REDIS_USER).
 */
import { createHash } from "node:crypto";
import { mkdirSync } from "node:fs";
import { Redis } from "ioredis";
import type { ProcessSpec } from "./processes.js";

export interface RedisUser {
  name: string;
  password: string;
  /** ACL rules after `on <password>`: keys, channels, commands. */
  rules: readonly string[];
}

export function redisSpec(p: {
  name: string;
  dataDir: string;
  port: number;
  users: readonly RedisUser[];
  log: string;
  durable?: boolean;
}): ProcessSpec {
  mkdirSync(p.dataDir, { recursive: true, mode: 0o700 });
  const durable = p.durable ?? true;
  return {
    name: p.name,
    role: "redis",
    command: process.env.CONCORD_REDIS_SERVER ?? "redis-server",
    args: [
      "--port",
      String(p.port),
      "--bind",
      "127.0.0.1",
      "--dir",
      p.dataDir,
      "--appendonly",
      durable ? "yes" : "no",
      "--appendfsync",
      durable ? "always" : "everysec",
      "--save",
      "",
      // Redis 7.0 preallocates a whole stream node (4096 bytes by default) for each new stream, and
      // every transaction has a small event stream: 512 bytes cut the log's memory per finished
      // transaction from about 5.2 KB to 1.7 KB (measured; README, "Performance").
      "--stream-node-max-bytes",
      "512",
      // Passwords are given as their SHA-256 (`#<hex>`): a command line is readable by every local
      // user, the hash of a 256-bit random secret gives nothing away.
      ...p.users.flatMap((u) => ["--user", u.name, "on", `#${sha256(u.password)}`, ...u.rules]),
      "--daemonize",
      "no",
      "--logfile",
      "",
    ],
    env: {},
    port: p.port,
    log: p.log,
    // Redis rewrites its command line to "redis-server 127.0.0.1:PORT" once it has started;
    // before that it reads "redis-server --port PORT ...". The bare port matches both.
    marker: String(p.port),
    stopSignal: "SIGTERM",
  };
}

function sha256(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

export function redisUrl(port: number, user: string, password: string): string {
  return `redis://${encodeURIComponent(user)}:${encodeURIComponent(password)}@127.0.0.1:${port}`;
}

export async function redisReady(url: string): Promise<boolean> {
  const client = new Redis(url, {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    connectTimeout: 1000,
  });
  client.on("error", () => undefined);
  try {
    await client.connect();
    // ping() resolves only with PONG; anything else rejects.
    await client.ping();
    return true;
  } catch {
    return false;
  } finally {
    client.disconnect();
  }
}
