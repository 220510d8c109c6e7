import { createHash } from "node:crypto";
import { z } from "zod";
import { isParticipantName } from "./ids.js";
import { allows, DEFAULT_ISOLATION, isolationSchema } from "./isolation.js";

/**
 * Every setting of every process comes from the environment, defined once here. The README's
 * configuration table and the docker-compose test are both checked against these schemas.
 */
const bool = z
  .enum(["true", "false", "1", "0", ""])
  .default("false")
  .transform((v) => v === "true" || v === "1");
const port = z.coerce.number().int().min(0).max(65535);
const ms = (min: number, max: number, dflt: number) =>
  z.coerce.number().int().min(min).max(max).default(dflt);
const redisUrl = z.string().regex(/^rediss?:\/\//, "must be a redis:// or rediss:// URL");
export const httpUrl = z
  .string()
  .regex(/^https?:\/\/[^\s]+$/, "must be an http:// or https:// URL");

/** The coordinator signs with this key id, so no participant may carry the name (auth.ts). */
const RESERVED_NAME = "coordinator";
export const participantName = (name: string): boolean =>
  isParticipantName(name) && name !== RESERVED_NAME;

/** `name=url,name=url`: the coordinator's registry of participants. Clients never send URLs. */
const participantMap = z
  .string()
  .min(1)
  .transform((raw, ctx) => {
    const entries = new Map<string, string>();
    for (const item of raw
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean)) {
      const eq = item.indexOf("=");
      const name = item.slice(0, eq);
      const url = item.slice(eq + 1).replace(/\/+$/, "");
      if (eq <= 0 || !participantName(name) || !httpUrl.safeParse(url).success) {
        ctx.addIssue({
          code: z.ZodIssueCode.custom,
          message: `expected name=http://host:port, got ${JSON.stringify(item)}`,
        });
        return z.NEVER;
      }
      if (entries.has(name)) {
        ctx.addIssue({
          code: z.ZodIssueCode.custom,
          message: `participant ${name} is listed twice`,
        });
        return z.NEVER;
      }
      entries.set(name, url);
    }
    return entries;
  });

/** A shared secret: long enough that guessing is hopeless. Its value is never echoed in errors. */
export const secret = z
  .string()
  .min(32, "must be at least 32 characters (generate one: openssl rand -hex 32)");

/** `name=secret,name=secret`: a secret per participant (the coordinator's, or a participant's per peer). */
const secretMap = z
  .string()
  .min(1)
  .transform((raw, ctx) => {
    const entries = new Map<string, string>();
    for (const [i, item] of raw
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean)
      .entries()) {
      const eq = item.indexOf("=");
      const name = item.slice(0, eq);
      const value = item.slice(eq + 1);
      // The message names the entry's position and participant, never the secret.
      if (eq <= 0 || !participantName(name)) {
        ctx.addIssue({ code: z.ZodIssueCode.custom, message: `entry ${i + 1} is not name=secret` });
        return z.NEVER;
      }
      if (entries.has(name)) {
        ctx.addIssue({ code: z.ZodIssueCode.custom, message: `${name} is listed twice` });
        return z.NEVER;
      }
      if (!secret.safeParse(value).success) {
        ctx.addIssue({
          code: z.ZodIssueCode.custom,
          message: `the secret of ${name} must be at least 32 characters`,
        });
        return z.NEVER;
      }
      entries.set(name, value);
    }
    return entries;
  });

/** An API key's id: what its transactions are recorded under, and what it may see. */
export const API_KEY_ID_PATTERN = /^[a-z0-9][a-z0-9-]{0,31}$/;

/**
 * Client API keys, `id=key,id=key`. The id scopes the client's transactions and
 * Idempotency-Keys; a bare key (no `id=`) is given an id derived from its hash.
 */
const apiKeys = z.string().transform((raw, ctx) => {
  const keys = new Map<string, string>();
  for (const [i, item] of raw
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean)
    .entries()) {
    const eq = item.indexOf("=");
    const key = eq < 0 ? item : item.slice(eq + 1);
    const id =
      eq < 0
        ? `key-${createHash("sha256").update(key).digest("hex").slice(0, 12)}`
        : item.slice(0, eq);
    if (!API_KEY_ID_PATTERN.test(id)) {
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        message: `entry ${i + 1}: the id must match ${API_KEY_ID_PATTERN.source}`,
      });
      return z.NEVER;
    }
    if (!secret.safeParse(key).success) {
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        message: `entry ${i + 1} (${id}): the key must be at least 32 characters`,
      });
      return z.NEVER;
    }
    if (keys.has(id) || [...keys.values()].includes(key)) {
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        message: `entry ${i + 1} (${id}): ids and keys must be distinct`,
      });
      return z.NEVER;
    }
    keys.set(id, key);
  }
  if (keys.size === 0) {
    ctx.addIssue({
      code: z.ZodIssueCode.custom,
      message: "must list one or more keys as id=key, separated by commas",
    });
    return z.NEVER;
  }
  return keys;
});

/** What every service's HTTP server allows (http-server.ts ServerLimits). */
const serverLimits = {
  /** Open connections at once; more are closed on arrival. */
  CONCORD_MAX_CONNECTIONS: z.coerce.number().int().min(16).max(100_000).default(1024),
  /** Longest time to receive a whole request (headers and body): slow senders are cut off. */
  CONCORD_REQUEST_TIMEOUT_MS: ms(500, 600_000, 10_000),
  /** On SIGTERM: how long accepted requests may take to finish before the rest goes to recovery. */
  CONCORD_DRAIN_TIMEOUT_MS: ms(0, 600_000, 10_000),
};

export const coordinatorEnvSchema = z.object({
  CONCORD_HOST: z.string().default("127.0.0.1"),
  CONCORD_PORT: port.default(7000),
  CONCORD_REDIS_URL: redisUrl.default("redis://127.0.0.1:6379"),
  /** `name=url,...`; or CONCORD_PARTICIPANTS_FILE, which is reloaded when it changes. */
  CONCORD_PARTICIPANTS: participantMap.optional(),
  /**
   * A JSON file `{"participants": {"<name>": {"url", "secret"}}}` read instead of
   * CONCORD_PARTICIPANTS and CONCORD_PARTICIPANT_SECRETS, and read again when it changes:
   * participants are added and removed without a restart (shared/participant-directory.ts).
   */
  CONCORD_PARTICIPANTS_FILE: z.string().min(1).optional(),
  /** How often each participant's published operations schema is fetched again. */
  CONCORD_DESCRIPTOR_REFRESH_MS: ms(1000, 3_600_000, 30_000),
  CONCORD_ACCEPT_NONDURABLE_REDIS: bool,
  CONCORD_DEFAULT_TIMEOUT_MS: ms(100, 600_000, 5000),
  CONCORD_MAX_TIMEOUT_MS: ms(100, 600_000, 60_000),
  CONCORD_PARTICIPANT_REQUEST_TIMEOUT_MS: ms(100, 600_000, 10_000),
  CONCORD_RETENTION_SECONDS: z.coerce
    .number()
    .int()
    .min(60)
    .max(365 * 86400)
    .default(7 * 86400),
  CONCORD_RECOVERY_INTERVAL_MS: ms(50, 600_000, 1000),
  /**
   * The archive (PostgreSQL) finished transactions move to after CONCORD_ARCHIVE_AFTER_SECONDS
   * (coordinator/archiver.ts). Without it nothing is archived and Redis keeps them for
   * CONCORD_RETENTION_SECONDS.
   */
  CONCORD_ARCHIVE_DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, "must be a postgres:// URL")
    .optional(),
  /** How long a finished transaction stays in Redis before it moves to the archive. */
  CONCORD_ARCHIVE_AFTER_SECONDS: z.coerce
    .number()
    .int()
    .min(1)
    .max(365 * 86400)
    .default(300),
  /** How often the archiver looks for transactions to move, and how many it moves per statement. */
  CONCORD_ARCHIVE_INTERVAL_MS: ms(50, 600_000, 1000),
  CONCORD_ARCHIVE_BATCH_SIZE: z.coerce.number().int().min(1).max(10_000).default(500),
  CONCORD_ADMIN_SECRET: z.string().optional(),
  /** The operators' secret: console, operator CLI, metrics, operator actions (operatorSecretProblems). */
  CONCORD_OPERATOR_SECRET: secret.optional(),
  /** Failpoints armed at start-up (tests and chaos only): see shared/failpoints.ts. */
  CONCORD_FAILPOINTS: z.string().optional(),
  /** Mounts the admin API (failpoints); needs CONCORD_ADMIN_SECRET. */
  CONCORD_ADMIN_ENDPOINTS: bool,
  CONCORD_LOG_LEVEL: z
    .enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"])
    .default("info"),
  /** Replaced by the schemas the participants publish: the coordinator knows no application. */
  CONCORD_OPERATIONS: z
    .undefined({
      invalid_type_error:
        "is no longer read: the coordinator checks each participant's operations with the JSON Schema that participant publishes (GET /v1/descriptor); remove it",
    })
    .optional(),
  /** Bearer keys a client must present to the transaction API. */
  CONCORD_API_KEYS: apiKeys,
  /** The HMAC secret shared with each participant, `name=secret,...`: one for every participant. */
  CONCORD_PARTICIPANT_SECRETS: secretMap.optional(),
  /** Attempts a request gets when it does not set `retry.maxAttempts` (transient aborts are retried). */
  CONCORD_RETRY_MAX_ATTEMPTS: z.coerce.number().int().min(0).max(100).default(20),
  /** Per API key (per coordinator process): transactions running at once. */
  CONCORD_CLIENT_MAX_IN_FLIGHT: z.coerce.number().int().min(1).max(100_000).default(64),
  /**
   * Per API key: the sum of the deadlines (timeoutMs) of its transactions in flight. A transaction
   * may hold locks and prepared slots at participants until its deadline, so this bounds the
   * prepared time one client can hold.
   */
  CONCORD_CLIENT_MAX_HELD_MS: ms(100, 86_400_000, 600_000),
  /** Per API key: sustained requests per second to the transaction API, and the burst above it. */
  CONCORD_CLIENT_RATE_PER_SECOND: z.coerce.number().int().min(1).max(1_000_000).default(1000),
  CONCORD_CLIENT_RATE_BURST: z.coerce.number().int().min(1).max(1_000_000).default(2000),
  ...serverLimits,
});
export type CoordinatorConfig = z.infer<typeof coordinatorEnvSchema>;

/** Each peer needs its pair's secret; a secret for a participant that is not a peer is a typo. */
export function checkPeerSecrets(c: ParticipantConfig): void {
  const problems: string[] = [];
  if (c.CONCORD_PEERS_FILE !== undefined) {
    if (c.CONCORD_PEERS !== undefined || c.CONCORD_PEER_SECRETS !== undefined)
      problems.push(
        "CONCORD_PEERS_FILE: give the peers either in this file or in CONCORD_PEERS and CONCORD_PEER_SECRETS, not both",
      );
  } else problems.push(...pairProblems(c.CONCORD_PEERS, c.CONCORD_PEER_SECRETS, "PEER"));
  if (c.CONCORD_PEERS?.has(c.CONCORD_PARTICIPANT_NAME))
    problems.push(`CONCORD_PEERS: lists this participant itself (${c.CONCORD_PARTICIPANT_NAME})`);
  if (problems.length > 0) throw new Error(`invalid configuration:\n  ${problems.join("\n  ")}`);
}

/** A name list and its secrets agree: each name has one, and no secret is for an unknown name. */
function pairProblems(
  urls: ReadonlyMap<string, string> | undefined,
  secrets: ReadonlyMap<string, string> | undefined,
  kind: "PEER" | "PARTICIPANT",
): string[] {
  const names = kind === "PEER" ? "CONCORD_PEERS" : "CONCORD_PARTICIPANTS";
  const secretsName = `CONCORD_${kind}_SECRETS`;
  const missing = [...(urls?.keys() ?? [])].filter((name) => !secrets?.has(name));
  const unknown = [...(secrets?.keys() ?? [])].filter((name) => !urls?.has(name));
  return [
    ...(missing.length > 0
      ? [`${secretsName}: no secret for ${missing.join(", ")} (listed in ${names})`]
      : []),
    ...(unknown.length > 0
      ? [`${secretsName}: a secret for ${unknown.join(", ")}, which ${names} does not list`]
      : []),
  ];
}

/**
 * The participants come from CONCORD_PARTICIPANTS with CONCORD_PARTICIPANT_SECRETS, or from
 * CONCORD_PARTICIPANTS_FILE: one of the two, and every registered participant needs its secret.
 */
export function checkParticipantSecrets(c: CoordinatorConfig): void {
  const problems: string[] = [];
  if (c.CONCORD_PARTICIPANTS_FILE !== undefined) {
    if (c.CONCORD_PARTICIPANTS !== undefined || c.CONCORD_PARTICIPANT_SECRETS !== undefined)
      problems.push(
        "CONCORD_PARTICIPANTS_FILE: give the participants either in this file or in CONCORD_PARTICIPANTS and CONCORD_PARTICIPANT_SECRETS, not both",
      );
  } else
    problems.push(
      ...pairProblems(c.CONCORD_PARTICIPANTS, c.CONCORD_PARTICIPANT_SECRETS, "PARTICIPANT"),
    );
  if (problems.length > 0) throw new Error(`invalid configuration:\n  ${problems.join("\n  ")}`);
}

export const participantEnvSchema = z.object({
  CONCORD_PARTICIPANT_NAME: z
    .string()
    .refine(participantName, `must match ^[a-z][a-z0-9-]{0,31}$ and not be "${RESERVED_NAME}"`),
  CONCORD_HOST: z.string().default("127.0.0.1"),
  CONCORD_PORT: port.default(7100),
  CONCORD_DATABASE_URL: z.string().regex(/^postgres(ql)?:\/\//, "must be a postgres:// URL"),
  CONCORD_REDIS_URL: redisUrl.default("redis://127.0.0.1:6379"),
  CONCORD_COORDINATOR_URL: httpUrl.optional(),
  /** The other participants, `name=url,...`: whom to ask while the coordinator is unreachable. */
  CONCORD_PEERS: participantMap.optional(),
  /**
   * A JSON file `{"peers": {"<name>": {"url", "secret"}}}` read instead of CONCORD_PEERS and
   * CONCORD_PEER_SECRETS, and read again when it changes (a participant added or removed).
   */
  CONCORD_PEERS_FILE: z.string().min(1).optional(),
  CONCORD_RECOVERY_INTERVAL_MS: ms(50, 600_000, 2000),
  /** Prepared transactions younger than this are left to the coordinator's phase 2. */
  CONCORD_RECOVERY_MIN_AGE_MS: ms(0, 600_000, 3000),
  CONCORD_ACCEPT_NONDURABLE_REDIS: bool,
  CONCORD_LOCK_TIMEOUT_MS: ms(10, 600_000, 500),
  CONCORD_STATEMENT_TIMEOUT_MS: ms(10, 600_000, 10_000),
  CONCORD_PG_POOL_SIZE: z.coerce.number().int().min(1).max(500).default(20),
  CONCORD_PG_DECISION_POOL_SIZE: z.coerce.number().int().min(1).max(100).default(4),
  CONCORD_RETENTION_SECONDS: z.coerce
    .number()
    .int()
    .min(60)
    .max(365 * 86400)
    .default(7 * 86400),
  CONCORD_ADMIN_SECRET: z.string().optional(),
  /** The operators' secret: console, operator CLI, metrics, operator actions (operatorSecretProblems). */
  CONCORD_OPERATOR_SECRET: secret.optional(),
  /** Failpoints armed at start-up (tests and chaos only): see shared/failpoints.ts. */
  CONCORD_FAILPOINTS: z.string().optional(),
  /** Mounts the admin API (failpoints); needs CONCORD_ADMIN_SECRET. */
  CONCORD_ADMIN_ENDPOINTS: bool,
  CONCORD_LOG_LEVEL: z
    .enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"])
    .default("info"),
  /** The HMAC secret this participant shares with the coordinator (2PC messages, decision inquiries). */
  CONCORD_PARTICIPANT_SECRET: secret,
  /**
   * `peer=secret,...`: the HMAC secret this participant shares with each peer, one per pair, for
   * asking each other during cooperative termination. Per pair, so a participant can only ever
   * sign as itself: it holds no secret another pair uses.
   */
  CONCORD_PEER_SECRETS: secretMap.optional(),
  /** Replaced by CONCORD_PEER_SECRETS: one secret shared by all let any participant sign as any other. */
  CONCORD_PEER_SECRET: z
    .undefined({
      invalid_type_error:
        "is no longer read: give each pair of participants its own secret in CONCORD_PEER_SECRETS (peer=secret,...)",
    })
    .optional(),
  /**
   * Prepared-transaction slots kept free: PREPARE votes NO with reason `busy` once PostgreSQL holds
   * max_prepared_transactions minus this many, instead of failing on a full table.
   */
  CONCORD_PREPARED_RESERVE: z.coerce.number().int().min(0).max(10_000).default(4),
  /** The isolation level of a request that names none (docs/isolation.md). */
  CONCORD_ISOLATION_DEFAULT: isolationSchema.default(DEFAULT_ISOLATION),
  /**
   * The weakest level this participant runs: a request asking for less is refused before the
   * coordinator logs it (a bank whose rules need REPEATABLE READ or stronger, say).
   */
  CONCORD_ISOLATION_FLOOR: isolationSchema.default(DEFAULT_ISOLATION),
  ...serverLimits,
});
export type ParticipantConfig = z.infer<typeof participantEnvSchema>;

/**
 * A default below the floor would refuse the requests that name no level: told at start, with
 * the schema's own issues (loadConfig's `moreProblems`). A level that does not parse is the
 * schema's to tell.
 */
export function isolationProblems(env: Readonly<Record<string, string | undefined>>): string[] {
  const levelOf = (name: string) => isolationSchema.default(DEFAULT_ISOLATION).safeParse(env[name]);
  const dflt = levelOf("CONCORD_ISOLATION_DEFAULT");
  const floor = levelOf("CONCORD_ISOLATION_FLOOR");
  if (!dflt.success || !floor.success || allows(floor.data, dflt.data)) return [];
  return [
    `CONCORD_ISOLATION_DEFAULT: ${dflt.data} is below CONCORD_ISOLATION_FLOOR (${floor.data}); raise the default or lower the floor`,
  ];
}

/** Parses the environment or explains, variable by variable, what to fix. */
export function loadConfig<S extends z.ZodTypeAny>(
  schema: S,
  env: Readonly<Record<string, string | undefined>> = process.env,
  /** Problems the schema cannot see (a choice between variables), told with its own issues. */
  moreProblems: (env: Readonly<Record<string, string | undefined>>) => string[] = () => [],
): z.infer<S> {
  const parsed = schema.safeParse(env);
  // Told together with the schema's issues, so one start names everything there is to fix.
  const more = [...operatorSecretProblems(env), ...moreProblems(env)];
  if (!parsed.success || more.length > 0) {
    const issues = parsed.success ? [] : parsed.error.issues;
    const lines = [
      ...issues.map((i) => `  ${i.path.join(".")}: ${i.message}`),
      ...more.map((m) => `  ${m}`),
    ];
    throw new Error(`invalid configuration:\n${lines.join("\n")}`);
  }
  return parsed.data as z.infer<S>;
}

/**
 * The operator secret is a role of its own: equal to the admin secret or to a client's API key, it
 * would give one holder both roles. Compared as written; the message never shows a secret.
 */
export function operatorSecretProblems(
  env: Readonly<Record<string, string | undefined>>,
): string[] {
  const operator = env.CONCORD_OPERATOR_SECRET;
  if (operator === undefined || operator === "") return [];
  const problems: string[] = [];
  if (operator === env.CONCORD_ADMIN_SECRET)
    problems.push(
      "CONCORD_OPERATOR_SECRET: must differ from CONCORD_ADMIN_SECRET (the two are separate roles)",
    );
  const keys = (env.CONCORD_API_KEYS ?? "").split(",").map((item) => item.trim());
  if (keys.some((item) => item === operator || item.slice(item.indexOf("=") + 1) === operator))
    problems.push(
      "CONCORD_OPERATOR_SECRET: must differ from every client API key in CONCORD_API_KEYS",
    );
  return problems;
}

/** The coordinator needs its participants from the environment's pair of lists or from a file. */
export function missingParticipantsSource(
  env: Readonly<Record<string, string | undefined>>,
): string[] {
  if (env.CONCORD_PARTICIPANTS_FILE !== undefined) return [];
  return [
    ...(env.CONCORD_PARTICIPANTS === undefined
      ? ["CONCORD_PARTICIPANTS: required (name=url,...), or a file in CONCORD_PARTICIPANTS_FILE"]
      : []),
    ...(env.CONCORD_PARTICIPANT_SECRETS === undefined
      ? [
          "CONCORD_PARTICIPANT_SECRETS: required (name=secret,..., one per participant), or a file in CONCORD_PARTICIPANTS_FILE",
        ]
      : []),
  ];
}
