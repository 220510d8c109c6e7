import { pino, type Logger } from "pino";
import { logContextFields } from "./log-context.js";

export type { Logger };

/**
 * Structured logs, one JSON line per event. Secrets are redacted wherever they could appear,
 * so a log file can be shared with whoever debugs an incident.
 */
export function createLogger(
  name: string,
  level: string = process.env.CONCORD_LOG_LEVEL ?? "info",
): Logger {
  return pino({
    name,
    level,
    // A line about a txid carries the request id and Idempotency-Key of the request it serves
    // (log-context.ts).
    mixin: (line) => logContextFields(line),
    redact: {
      paths: [
        "secret",
        "*.secret",
        "password",
        "*.password",
        "apiKey",
        "*.apiKey",
        "peerSecret",
        "*.peerSecret",
        "participantSecrets",
        "*.participantSecrets",
        "authorization",
        "*.authorization",
        "headers.authorization",
        "*.headers.authorization",
        'headers["concord-signature"]',
        '*.headers["concord-signature"]',
        "env",
        "*.env",
        "redisUrl",
        "databaseUrl",
        "*.redisUrl",
        "*.databaseUrl",
      ],
      censor: "[redacted]",
    },
  });
}
