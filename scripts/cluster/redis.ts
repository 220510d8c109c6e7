/** A private Redis with the only durable setting we accept: AOF, fsync on every write. */
import { mkdirSync } from "node:fs";
import { Redis } from "ioredis";
import type { ProcessSpec } from "./processes.js";

export function redisSpec(p: { name: string; dataDir: string; port: number; password: string; log: string; durable?: boolean }): ProcessSpec {
  mkdirSync(p.dataDir, { recursive: true });
  const durable = p.durable ?? true;
  return {
    name: p.name,
    role: "redis",
    command: process.env.CONCORD_REDIS_SERVER ?? "redis-server",
    args: [
      "--port", String(p.port),
      "--bind", "127.0.0.1",
      "--dir", p.dataDir,
      "--appendonly", durable ? "yes" : "no",
      "--appendfsync", durable ? "always" : "everysec",
      "--save", "",
      // Redis 7.0 preallocates a whole stream node (4096 bytes by default) for each new stream, and
      // every transaction has a small event stream: 512 bytes cut the log's memory per finished
      // transaction from about 5.2 KB to 1.7 KB (measured; README, "Performance").
      "--stream-node-max-bytes", "512",
      "--requirepass", p.password,
      "--daemonize", "no",
      "--logfile", "",
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

export function redisUrl(port: number, password: string): string {
  return `redis://:${encodeURIComponent(password)}@127.0.0.1:${port}`;
}

export async function redisReady(url: string): Promise<boolean> {
  const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 1000 });
  client.on("error", () => undefined);
  try {
    await client.connect();
    return (await client.ping()) === "PONG";
  } catch {
    return false;
  } finally {
    client.disconnect();
  }
}
