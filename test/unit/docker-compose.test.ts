/**
 * No Docker engine runs where the tests run, so docker-compose.yml must be right by
 * construction: these tests hold it to the configuration schemas and to the durability rules
 * the services enforce at start-up, so a container stack that would refuse to start (or worse,
 * start without durability) fails here instead. They also hold it to least privilege: every
 * service gets its own credentials and no other's, Redis users have the ACLs of
 * shared/redis-acl.ts, and participants reach PostgreSQL as their own role, not a superuser.
 */
import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { expect } from "chai";
import { COMPOSE_SECRETS } from "../../scripts/compose-secrets.js";
import { parse } from "yaml";
import { z } from "zod";
import {
  checkParticipantSecrets,
  checkPeerSecrets,
  coordinatorEnvSchema,
  participantEnvSchema,
} from "../../shared/config.js";
import {
  ADMIN_ACL_RULES,
  ADMIN_REDIS_USER,
  logNamespace,
  redisUserOf,
  serviceAclRules,
} from "../../shared/redis-acl.js";
import { bankNames, inventoryNames } from "../../scripts/cluster/cluster.js";
import { APPLICATIONS } from "../../scripts/cluster/cluster-plan.js";
import { participantDatabaseName, POSTGRES_LOG_SETTINGS } from "../../scripts/cluster/postgres.js";

const ROOT = process.cwd();
// The containers describe the same topology as the local cluster's default: three banks and an
// inventory, each participant set up the same way whatever its application.
const BANKS = bankNames(3);
const INVENTORY = inventoryNames(1);
const PARTICIPANTS = [...BANKS, ...INVENTORY];
const COORDINATOR = "coordinator";
const COORDINATOR_REDIS = "redis-coordinator";
const postgresOf = (bank: string) => `postgres-${bank}`;
const redisOf = (bank: string) => `redis-${bank}`;
/** The superuser of every bank's PostgreSQL: for operators and the image's initialisation, never for a participant. */
const POSTGRES_SUPERUSER = "postgres";
/** Where the postgres image looks for the scripts it runs at first initialisation. */
const INIT_DIR = "/docker-entrypoint-initdb.d/";
const BANK_DATABASE_SQL = "scripts/postgres/init-bank-database.sql";

/**
 * Least privilege, service by service: the secret variables each one may reference, and so hold.
 * A Redis holds its service user's and its admin's passwords; a PostgreSQL its superuser's and the
 * bank role's (it creates the role); a participant its own role's and Redis user's passwords, its
 * admin secret, its secret with the coordinator and one secret per pair it belongs to.
 */
const SECRETS_OF: Record<string, readonly string[]> = {
  "redis-coordinator": [
    "CONCORD_REDIS_COORDINATOR_PASSWORD",
    "CONCORD_REDIS_COORDINATOR_ADMIN_PASSWORD",
  ],
  coordinator: [
    "CONCORD_API_KEY",
    "CONCORD_COORDINATOR_ADMIN_SECRET",
    "CONCORD_COORDINATOR_OPERATOR_SECRET",
    "CONCORD_REDIS_COORDINATOR_PASSWORD",
    "CONCORD_POSTGRES_COORDINATOR_PASSWORD",
    "CONCORD_SECRET_BANK_A",
    "CONCORD_SECRET_BANK_B",
    "CONCORD_SECRET_BANK_C",
    "CONCORD_SECRET_INVENTORY",
  ],
  "postgres-coordinator": [
    "CONCORD_POSTGRES_COORDINATOR_PASSWORD",
    "CONCORD_POSTGRES_COORDINATOR_ADMIN_PASSWORD",
  ],
  "postgres-bank-a": ["CONCORD_POSTGRES_BANK_A_PASSWORD", "CONCORD_POSTGRES_BANK_A_ADMIN_PASSWORD"],
  "redis-bank-a": ["CONCORD_REDIS_BANK_A_PASSWORD", "CONCORD_REDIS_BANK_A_ADMIN_PASSWORD"],
  "bank-a": [
    "CONCORD_POSTGRES_BANK_A_PASSWORD",
    "CONCORD_REDIS_BANK_A_PASSWORD",
    "CONCORD_BANK_A_ADMIN_SECRET",
    "CONCORD_BANK_A_OPERATOR_SECRET",
    "CONCORD_SECRET_BANK_A",
    "CONCORD_PEER_SECRET_BANK_A_BANK_B",
    "CONCORD_PEER_SECRET_BANK_A_BANK_C",
    "CONCORD_PEER_SECRET_BANK_A_INVENTORY",
  ],
  "postgres-bank-b": ["CONCORD_POSTGRES_BANK_B_PASSWORD", "CONCORD_POSTGRES_BANK_B_ADMIN_PASSWORD"],
  "redis-bank-b": ["CONCORD_REDIS_BANK_B_PASSWORD", "CONCORD_REDIS_BANK_B_ADMIN_PASSWORD"],
  "bank-b": [
    "CONCORD_POSTGRES_BANK_B_PASSWORD",
    "CONCORD_REDIS_BANK_B_PASSWORD",
    "CONCORD_BANK_B_ADMIN_SECRET",
    "CONCORD_BANK_B_OPERATOR_SECRET",
    "CONCORD_SECRET_BANK_B",
    "CONCORD_PEER_SECRET_BANK_A_BANK_B",
    "CONCORD_PEER_SECRET_BANK_B_BANK_C",
    "CONCORD_PEER_SECRET_BANK_B_INVENTORY",
  ],
  "postgres-bank-c": ["CONCORD_POSTGRES_BANK_C_PASSWORD", "CONCORD_POSTGRES_BANK_C_ADMIN_PASSWORD"],
  "redis-bank-c": ["CONCORD_REDIS_BANK_C_PASSWORD", "CONCORD_REDIS_BANK_C_ADMIN_PASSWORD"],
  "bank-c": [
    "CONCORD_POSTGRES_BANK_C_PASSWORD",
    "CONCORD_REDIS_BANK_C_PASSWORD",
    "CONCORD_BANK_C_ADMIN_SECRET",
    "CONCORD_BANK_C_OPERATOR_SECRET",
    "CONCORD_SECRET_BANK_C",
    "CONCORD_PEER_SECRET_BANK_A_BANK_C",
    "CONCORD_PEER_SECRET_BANK_B_BANK_C",
    "CONCORD_PEER_SECRET_BANK_C_INVENTORY",
  ],
  "postgres-inventory": [
    "CONCORD_POSTGRES_INVENTORY_PASSWORD",
    "CONCORD_POSTGRES_INVENTORY_ADMIN_PASSWORD",
  ],
  "redis-inventory": ["CONCORD_REDIS_INVENTORY_PASSWORD", "CONCORD_REDIS_INVENTORY_ADMIN_PASSWORD"],
  inventory: [
    "CONCORD_POSTGRES_INVENTORY_PASSWORD",
    "CONCORD_REDIS_INVENTORY_PASSWORD",
    "CONCORD_INVENTORY_ADMIN_SECRET",
    "CONCORD_INVENTORY_OPERATOR_SECRET",
    "CONCORD_SECRET_INVENTORY",
    "CONCORD_PEER_SECRET_BANK_A_INVENTORY",
    "CONCORD_PEER_SECRET_BANK_B_INVENTORY",
    "CONCORD_PEER_SECRET_BANK_C_INVENTORY",
  ],
};

/** Whose log each Redis holds, and so which ACL user it must have and which service connects as it. */
type LogOwner = Parameters<typeof logNamespace>[0];
const REDIS_OWNERS: ReadonlyArray<{ redis: string; client: string; owner: LogOwner }> = [
  { redis: COORDINATOR_REDIS, client: COORDINATOR, owner: "coordinator" },
  ...PARTICIPANTS.map((bank) => ({
    redis: redisOf(bank),
    client: bank,
    owner: { participant: bank },
  })),
];

const stringList = z.union([z.string(), z.array(z.string())]);
const serviceSchema = z
  .object({
    image: z.string().optional(),
    command: stringList.optional(),
    environment: z
      .union([
        z.record(z.union([z.string(), z.number(), z.boolean(), z.null()])),
        z.array(z.string()),
      ])
      .optional(),
    healthcheck: z.object({ test: stringList }).passthrough().optional(),
    depends_on: z
      .union([
        z.array(z.string()),
        z.record(z.object({ condition: z.string().optional() }).passthrough()),
      ])
      .optional(),
    ports: z.array(z.union([z.string(), z.number(), z.object({}).passthrough()])).optional(),
    volumes: z.array(z.union([z.string(), z.object({}).passthrough()])).optional(),
  })
  .passthrough();
type Service = z.infer<typeof serviceSchema>;
const composeSchema = z
  .object({ services: z.record(serviceSchema), volumes: z.record(z.unknown()).optional() })
  .passthrough();

const compose = composeSchema.parse(
  parse(readFileSync(resolve(ROOT, "docker-compose.yml"), "utf8")),
);

function service(name: string): Service {
  const found = compose.services[name];
  if (!found) throw new Error(`docker-compose.yml has no service ${name}`);
  return found;
}

/**
 * Applies compose's variable substitution the way a run would see it: `${X:-d}` takes its
 * default, and a variable the operator must set (`${X:?msg}`, `${X}`) becomes a stand-in that is
 * the same wherever the same variable is used, so values built from one secret still agree.
 */
function interpolate(value: string): string {
  return value.replace(
    /\$\$|\$\{([A-Za-z_]\w*)(?:(:?[-?])([^}]*))?\}|\$([A-Za-z_]\w*)/g,
    (match, braced?: string, op?: string, arg?: string, bare?: string) => {
      if (match === "$$") return "$";
      if (op?.endsWith("-")) return arg ?? "";
      // Long enough for the schemas' minimum secret length (32).
      return `stand-in-for-${braced ?? bare ?? ""}-0123456789abcdef0123456789abcdef`;
    },
  );
}

/** The same references `interpolate` replaces: `$$` is an escaped dollar, not a variable. */
const VARIABLE_REFERENCE = /\$\$|\$\{([A-Za-z_]\w*)(?:(:?[-?])([^}]*))?\}|\$([A-Za-z_]\w*)/g;

/** Every string anywhere in a parsed YAML value (comments are not in it: compose does not read them). */
function stringsIn(value: unknown): string[] {
  if (typeof value === "string") return [value];
  if (Array.isArray(value)) return value.flatMap(stringsIn);
  if (value !== null && typeof value === "object") return Object.values(value).flatMap(stringsIn);
  return [];
}

/** Every variable reference in a parsed YAML value, as written (`${X:?msg}`, `$X`, ...). */
function referencesIn(value: unknown): string[] {
  return stringsIn(value).flatMap((text) =>
    [...text.matchAll(VARIABLE_REFERENCE)].map((m) => m[0]).filter((ref) => ref !== "$$"),
  );
}

/** The names of the variables a parsed YAML value references. */
function variablesIn(value: unknown): Set<string> {
  return new Set(referencesIn(value).map((ref) => /\w+/.exec(ref)?.[0] ?? ref));
}

function environmentOf(name: string): Record<string, string> {
  const env = service(name).environment ?? {};
  const pairs = Array.isArray(env)
    ? env.map((item) => [item.slice(0, item.indexOf("=")), item.slice(item.indexOf("=") + 1)])
    : Object.entries(env);
  return Object.fromEntries(pairs.map(([key, value]) => [key, interpolate(String(value ?? ""))]));
}

function variable(name: string, key: string): string {
  const value = environmentOf(name)[key];
  if (value === undefined) throw new Error(`service ${name} does not set ${key}`);
  return value;
}

/** A command as the container receives it; the string form is split the way compose splits it. */
function commandOf(s: Service): string[] {
  const command = s.command ?? [];
  return (typeof command === "string" ? command.split(/\s+/).filter(Boolean) : command).map(
    interpolate,
  );
}

function dependenciesOf(s: Service): Array<[string, string | undefined]> {
  const deps = s.depends_on ?? [];
  return Array.isArray(deps)
    ? deps.map((d): [string, string | undefined] => [d, undefined])
    : Object.entries(deps).map(([d, v]): [string, string | undefined] => [d, v.condition]);
}

/** Redis and PostgreSQL take `--name value` / `-c name=value`; both forms end up as one setting. */
function settingIn(command: string[], name: string): string | undefined {
  const flag = command.indexOf(`--${name}`);
  if (flag >= 0) return command[flag + 1];
  const assignment = command.find((arg) => arg.startsWith(`${name}=`));
  return assignment?.slice(name.length + 1);
}

interface AclUser {
  /** `on` / `off` as given. */
  states: string[];
  /** `>password` (or `#sha256`) entries, without the prefix. */
  passwords: string[];
  /** Everything else: keys, channels, commands. */
  rules: string[];
}

/** The ACL users a Redis command line defines: `--user <name> <rule>...` up to the next `--option`. */
function redisUsersOf(name: string): Map<string, AclUser> {
  const command = commandOf(service(name));
  const users = new Map<string, AclUser>();
  command.forEach((arg, i) => {
    if (arg !== "--user") return;
    const next = command.findIndex((a, j) => j > i && a.startsWith("--"));
    const [user, ...rest] = command.slice(i + 1, next < 0 ? undefined : next);
    if (user === undefined || users.has(user))
      throw new Error(`${name}: --user without a name, or user ${user} defined twice`);
    const isPassword = (r: string) => r.startsWith(">") || r.startsWith("#");
    users.set(user, {
      states: rest.filter((r) => r === "on" || r === "off"),
      passwords: rest.filter(isPassword).map((r) => r.slice(1)),
      rules: rest.filter((r) => r !== "on" && r !== "off" && !isPassword(r)),
    });
  });
  return users;
}

function redisUser(redis: string, user: string): AclUser {
  const found = redisUsersOf(redis).get(user);
  if (!found) throw new Error(`${redis} defines no Redis user ${user}`);
  return found;
}

const peerSecretsOf = (bank: string) =>
  participantEnvSchema.parse(environmentOf(bank)).CONCORD_PEER_SECRETS ?? new Map<string, string>();

const servicesWithImage = (prefix: string) =>
  Object.keys(compose.services).filter((name) => service(name).image?.startsWith(prefix));
const effectivePort = (url: URL) => Number(url.port || (url.protocol === "https:" ? 443 : 80));

describe("docker-compose.yml", () => {
  it("declares the coordinator, its Redis, and per participant (three banks, an inventory) the participant, its PostgreSQL and its Redis", () => {
    const expected = [
      COORDINATOR,
      COORDINATOR_REDIS,
      ...PARTICIPANTS.flatMap((bank) => [bank, postgresOf(bank), redisOf(bank)]),
    ];
    expect(Object.keys(compose.services)).to.include.members(expected);
  });

  it("gives every Concord service a stop_grace_period longer than its drain bound, so SIGKILL never cuts a drain", () => {
    for (const name of [COORDINATOR, ...PARTICIPANTS]) {
      const grace = (service(name) as { stop_grace_period?: unknown }).stop_grace_period;
      const match = typeof grace === "string" ? /^(\d+)s$/.exec(grace) : null;
      expect(match, `${name}: stop_grace_period in seconds, e.g. 15s`).to.not.equal(null);
      const schema = name === COORDINATOR ? coordinatorEnvSchema : participantEnvSchema;
      const drainMs = schema.shape.CONCORD_DRAIN_TIMEOUT_MS.parse(
        environmentOf(name).CONCORD_DRAIN_TIMEOUT_MS,
      );
      expect(Number(match?.[1]) * 1000, name).to.be.greaterThan(drainMs);
    }
  });

  it("sets on the coordinator only variables its schema defines, and every variable it requires", () => {
    expectEnvironmentMatches(COORDINATOR, coordinatorEnvSchema);
  });

  for (const bank of PARTICIPANTS) {
    it(`sets on participant ${bank} only variables its schema defines, and every variable it requires`, () => {
      expectEnvironmentMatches(bank, participantEnvSchema);
    });
  }

  it("runs each participant's own application, as the local cluster does", () => {
    for (const [names, application] of [
      [BANKS, "bank"],
      [INVENTORY, "inventory"],
    ] as const) {
      const main = `dist/${APPLICATIONS[application].main.join("/")}`;
      for (const name of names) expect(commandOf(service(name)), name).to.include(main);
    }
  });

  it("names each participant after its service, so the coordinator's names and the gids agree", () => {
    for (const bank of PARTICIPANTS)
      expect(variable(bank, "CONCORD_PARTICIPANT_NAME"), bank).to.equal(bank);
  });

  it("binds the coordinator and every participant to 0.0.0.0, or no other container could reach them", () => {
    for (const name of [COORDINATOR, ...PARTICIPANTS])
      expect(variable(name, "CONCORD_HOST"), name).to.equal("0.0.0.0");
  });

  it("gives CONCORD_PARTICIPANTS a value the coordinator accepts, naming exactly the participant services", () => {
    expect([...participantRegistry().keys()]).to.have.members([...PARTICIPANTS]);
  });

  it("points each entry of CONCORD_PARTICIPANTS at that participant's host name and CONCORD_PORT", () => {
    for (const [name, raw] of participantRegistry()) {
      const url = new URL(raw);
      expect(url.hostname, name).to.equal(name);
      expect(effectivePort(url), name).to.equal(
        participantEnvSchema.parse(environmentOf(name)).CONCORD_PORT,
      );
    }
  });

  it("points every participant at the coordinator's service and port", () => {
    const coordinatorPort = coordinatorEnvSchema.parse(environmentOf(COORDINATOR)).CONCORD_PORT;
    for (const bank of PARTICIPANTS) {
      const url = new URL(variable(bank, "CONCORD_COORDINATOR_URL"));
      expect([url.hostname, effectivePort(url)], bank).to.deep.equal([
        COORDINATOR,
        coordinatorPort,
      ]);
    }
  });

  it("gives each participant every other participant as a peer, at its service and port", () => {
    for (const bank of PARTICIPANTS) {
      const peers =
        participantEnvSchema.parse(environmentOf(bank)).CONCORD_PEERS ?? new Map<string, string>();
      expect([...peers.keys()].sort(), bank).to.deep.equal(
        PARTICIPANTS.filter((b) => b !== bank).sort(),
      );
      for (const [peer, raw] of peers) {
        const url = new URL(raw);
        expect([url.hostname, effectivePort(url)], `${bank} -> ${peer}`).to.deep.equal([
          peer,
          participantEnvSchema.parse(environmentOf(peer)).CONCORD_PORT,
        ]);
      }
    }
  });

  it("connects each participant to its own PostgreSQL service", () => {
    for (const bank of PARTICIPANTS)
      expect(new URL(variable(bank, "CONCORD_DATABASE_URL")).hostname, bank).to.equal(
        postgresOf(bank),
      );
  });

  it("uses in each CONCORD_DATABASE_URL the role, password and database its PostgreSQL's init SQL creates", () => {
    for (const bank of PARTICIPANTS) {
      const url = new URL(variable(bank, "CONCORD_DATABASE_URL"));
      const pg = postgresOf(bank);
      const actual = [url.username, decodeURIComponent(url.password), url.pathname.slice(1)];
      const created = [
        variable(pg, "CONCORD_DB_USER"),
        variable(pg, "CONCORD_DB_PASSWORD"),
        variable(pg, "CONCORD_DB_NAME"),
      ];
      expect(actual, bank).to.deep.equal(created);
    }
  });

  it("connects each participant to PostgreSQL as its own role, to its own database, never as the superuser", () => {
    for (const bank of PARTICIPANTS) {
      const url = new URL(variable(bank, "CONCORD_DATABASE_URL"));
      const pg = postgresOf(bank);
      // Named as the local cluster names them.
      expect([url.username, url.pathname.slice(1)], bank).to.deep.equal([
        participantDatabaseName(bank),
        participantDatabaseName(bank),
      ]);
      expect(url.username, bank).to.not.equal(POSTGRES_SUPERUSER);
      expect(decodeURIComponent(url.password), `${bank}: the superuser's password`).to.not.equal(
        variable(pg, "POSTGRES_PASSWORD"),
      );
    }
  });

  it("initialises every participant's PostgreSQL with the superuser postgres, whose password no participant holds", () => {
    for (const bank of PARTICIPANTS) {
      const pg = postgresOf(bank);
      expect([variable(pg, "POSTGRES_USER"), variable(pg, "POSTGRES_DB")], pg).to.deep.equal([
        POSTGRES_SUPERUSER,
        "postgres",
      ]);
      const superuserPassword = variable(pg, "POSTGRES_PASSWORD");
      for (const other of Object.keys(compose.services).filter((name) => name !== pg)) {
        const held = stringsIn(service(other)).map(interpolate).join("\n");
        expect(held, `${other} holds the password of ${pg}'s superuser`).to.not.include(
          superuserPassword,
        );
      }
    }
  });

  it("mounts the bank-database SQL read-only where the postgres image runs it, and sets the CONCORD_DB_* it reads", () => {
    const sql = readFileSync(resolve(ROOT, BANK_DATABASE_SQL), "utf8");
    // The file takes its inputs from these variables; the compose file must set all three.
    for (const input of ["CONCORD_DB_NAME", "CONCORD_DB_USER", "CONCORD_DB_PASSWORD"]) {
      expect(sql, BANK_DATABASE_SQL).to.match(new RegExp(`\\\\getenv \\w+ ${input}\\b`));
    }
    for (const bank of PARTICIPANTS) {
      const pg = postgresOf(bank);
      const mounts = (service(pg).volumes ?? [])
        .filter((v): v is string => typeof v === "string")
        .map((v) => v.split(":"));
      const init = mounts.filter(([, target]) => target?.startsWith(INIT_DIR));
      expect(init, pg).to.have.lengthOf(1);
      const [source, target, mode] = init[0] ?? [];
      expect(resolve(ROOT, source ?? ""), pg).to.equal(resolve(ROOT, BANK_DATABASE_SQL));
      expect([target?.endsWith(".sql"), mode], pg).to.deep.equal([true, "ro"]);
      expect(variable(pg, "CONCORD_DB_NAME"), pg).to.equal(participantDatabaseName(bank));
      expect(variable(pg, "CONCORD_DB_USER"), pg).to.equal(participantDatabaseName(bank));
      // The init SQL refuses a shorter password, which would leave the volume without the role.
      expect(variable(pg, "CONCORD_DB_PASSWORD").length, pg).to.be.at.least(32);
    }
  });

  it("health-checks every PostgreSQL over TCP, so the socket-only initialisation server does not pass for the real one", () => {
    for (const name of servicesWithImage("postgres")) {
      const test = stringList.parse(service(name).healthcheck?.test ?? []);
      const args = typeof test === "string" ? test.split(/\s+/) : test;
      expect(args, name).to.include("pg_isready");
      expect(args[args.indexOf("-h") + 1], name).to.equal("127.0.0.1");
    }
  });

  it("gives each participant its own journal Redis: not the coordinator's, and shared with no peer", () => {
    const hosts = PARTICIPANTS.map((bank) => new URL(variable(bank, "CONCORD_REDIS_URL")).hostname);
    expect(hosts).to.deep.equal(PARTICIPANTS.map(redisOf));
    expect(new URL(variable(COORDINATOR, "CONCORD_REDIS_URL")).hostname).to.equal(
      COORDINATOR_REDIS,
    );
  });

  it("connects every service to its Redis as its own ACL user, with that user's password", () => {
    for (const { redis, client, owner } of REDIS_OWNERS) {
      const url = new URL(variable(client, "CONCORD_REDIS_URL"));
      const password = decodeURIComponent(url.password);
      expect(decodeURIComponent(url.username), client).to.equal(redisUserOf(owner));
      expect(password, client).to.not.equal("");
      expect([password], client).to.deep.equal(redisUser(redis, redisUserOf(owner)).passwords);
      expect(password, `${client} uses the admin password`).to.not.equal(
        redisUser(redis, ADMIN_REDIS_USER).passwords[0],
      );
    }
  });

  it("starts every Redis with the default user (operators) password-protected with ADMIN_ACL_RULES, and its service's user with serviceAclRules", () => {
    const owners = new Map(REDIS_OWNERS.map((r) => [r.redis, r.owner]));
    expect(servicesWithImage("redis")).to.have.members([...owners.keys()]);
    for (const [redis, owner] of owners) {
      const command = commandOf(service(redis));
      // requirepass would set a password on the default user: the users below replace it.
      expect(settingIn(command, "requirepass"), `${redis}: requirepass`).to.equal(undefined);
      const users = redisUsersOf(redis);
      // The default user keeps every right (Redis 7.0 replays the AOF as it), behind its own password.
      expect([...users.keys()], redis).to.have.members([ADMIN_REDIS_USER, redisUserOf(owner)]);
      expect(users.get(ADMIN_REDIS_USER), `${redis}: default`).to.deep.include({
        states: ["on"],
        rules: [...ADMIN_ACL_RULES],
      });
      const serviceUser = redisUserOf(owner);
      const expected = { states: ["on"], rules: serviceAclRules(logNamespace(owner)) };
      expect(users.get(serviceUser), `${redis}: ${serviceUser}`).to.deep.include(expected);
      for (const [user, acl] of users) {
        expect(acl.passwords, `${redis}: ${user}'s passwords`).to.have.lengthOf(1);
        expect(acl.passwords[0]?.length ?? 0, `${redis}: ${user}'s password`).to.be.at.least(32);
      }
    }
  });

  it("health-checks every Redis as the default user, with its password from REDISCLI_AUTH rather than the command line", () => {
    for (const redis of servicesWithImage("redis")) {
      const test = stringList.parse(service(redis).healthcheck?.test ?? []);
      const shell = typeof test === "string" ? test : test.join(" ");
      expect(shell, redis).to.match(/\bredis-cli ping \| grep -q PONG$/);
      expect(shell, `${redis}: a password on the health check's command line`).to.not.match(
        /\s(-a|--pass|--askpass)\b/,
      );
      expect([variable(redis, "REDISCLI_AUTH")], redis).to.deep.equal(
        redisUser(redis, ADMIN_REDIS_USER).passwords,
      );
    }
  });

  it("starts every participant's PostgreSQL with max_prepared_transactions > 0, as PREPARE TRANSACTION needs", () => {
    const postgres = servicesWithImage("postgres");
    expect(postgres).to.include.members(PARTICIPANTS.map(postgresOf));
    // The coordinator's (its archive) prepares nothing.
    for (const name of PARTICIPANTS.map(postgresOf))
      expect(
        Number(settingIn(commandOf(service(name)), "max_prepared_transactions")),
        name,
      ).to.be.greaterThan(0);
  });

  it("starts every PostgreSQL logging errors as the local cluster does: one line, no statement", () => {
    const postgres = servicesWithImage("postgres");
    expect(postgres).to.include.members(PARTICIPANTS.map(postgresOf));
    for (const name of postgres) {
      const command = commandOf(service(name));
      for (const setting of POSTGRES_LOG_SETTINGS) {
        const [key, value] = setting.split("=") as [string, string];
        expect(settingIn(command, key), `${name}: ${key}`).to.equal(value);
      }
    }
  });

  it("starts every Redis with appendonly yes and appendfsync always, as the durable log requires", () => {
    const redis = servicesWithImage("redis");
    expect(redis).to.include.members([COORDINATOR_REDIS, ...PARTICIPANTS.map(redisOf)]);
    for (const name of redis) {
      const command = commandOf(service(name));
      expect(
        [settingIn(command, "appendonly"), settingIn(command, "appendfsync")],
        name,
      ).to.deep.equal(["yes", "always"]);
    }
  });

  it("requires exactly the secrets that npm run compose-env generates", () => {
    const raw = readFileSync(resolve(ROOT, "docker-compose.yml"), "utf8");
    const required = new Set([...raw.matchAll(/\$\{([A-Z_]+):\?[^}]*\}/g)].map((m) => m[1]));
    expect([...required].sort()).to.deep.equal([...COMPOSE_SECRETS].sort());
    expect([...variablesIn(compose)].sort(), "variables the compose file reads").to.deep.equal(
      [...COMPOSE_SECRETS].sort(),
    );
  });

  it("references every variable as ${X:?...}, so none can default or be left empty", () => {
    for (const ref of referencesIn(compose)) expect(ref).to.match(/^\$\{[A-Z_]+:\?[^}]+\}$/);
  });

  it("gives each service exactly the secrets it needs, so none holds another's credential or one it does not use", () => {
    expect(Object.keys(compose.services), "services of the table").to.have.members(
      Object.keys(SECRETS_OF),
    );
    expect(
      [...new Set(Object.values(SECRETS_OF).flat())].sort(),
      "secrets of the table",
    ).to.deep.equal([...COMPOSE_SECRETS].sort());
    for (const [name, s] of Object.entries(compose.services)) {
      expect([...variablesIn(s)].sort(), name).to.deep.equal([...(SECRETS_OF[name] ?? [])].sort());
    }
  });

  it("gives the coordinator and every participant its own admin secret", () => {
    const secrets = [COORDINATOR, ...PARTICIPANTS].map((name) =>
      variable(name, "CONCORD_ADMIN_SECRET"),
    );
    expect(new Set(secrets).size).to.equal(secrets.length);
  });

  it("gives the coordinator and every participant its own operator secret, apart from its admin secret", () => {
    const secrets = [COORDINATOR, ...PARTICIPANTS].map((name) =>
      variable(name, "CONCORD_OPERATOR_SECRET"),
    );
    const admins = [COORDINATOR, ...PARTICIPANTS].map((name) =>
      variable(name, "CONCORD_ADMIN_SECRET"),
    );
    expect(new Set([...secrets, ...admins]).size).to.equal(secrets.length * 2);
  });

  it("gives the coordinator one client API key, id client, and a participant secret for exactly its participants", () => {
    const config = coordinatorEnvSchema.parse(environmentOf(COORDINATOR));
    expect([...config.CONCORD_API_KEYS.keys()]).to.deep.equal(["client"]);
    expect(() => {
      checkParticipantSecrets(config);
    }).to.not.throw();
  });

  it("gives each participant and the coordinator the same secret for that participant, and each participant a different one", () => {
    const coordinator = coordinatorEnvSchema.parse(environmentOf(COORDINATOR));
    const secrets = coordinator.CONCORD_PARTICIPANT_SECRETS ?? new Map<string, string>();
    for (const bank of PARTICIPANTS) {
      expect(secrets.get(bank), bank).to.equal(variable(bank, "CONCORD_PARTICIPANT_SECRET"));
    }
    expect(new Set(secrets.values()).size).to.equal(PARTICIPANTS.length);
  });

  it("gives each participant CONCORD_PEER_SECRETS for exactly its CONCORD_PEERS (checkPeerSecrets), and no CONCORD_PEER_SECRET", () => {
    for (const bank of PARTICIPANTS) {
      const env = environmentOf(bank);
      expect(env, bank).to.not.have.property("CONCORD_PEER_SECRET");
      const config = participantEnvSchema.parse(env);
      expect(config.CONCORD_PEER_SECRETS, bank).to.not.equal(undefined);
      expect(() => {
        checkPeerSecrets(config);
      }, bank).to.not.throw();
    }
  });

  it("gives both participants of a pair the same peer secret, and every pair its own", () => {
    const pairs = new Map<string, string>();
    for (const [i, a] of PARTICIPANTS.entries()) {
      for (const b of PARTICIPANTS.slice(i + 1)) {
        const secret = peerSecretsOf(a).get(b);
        expect(secret, `${a} -> ${b}`).to.be.a("string");
        expect(peerSecretsOf(b).get(a), `${b} -> ${a}`).to.equal(secret);
        pairs.set(`${a}/${b}`, secret ?? "");
      }
    }
    expect(new Set(pairs.values()).size, JSON.stringify([...pairs.keys()])).to.equal(pairs.size);
    const participantSecrets = PARTICIPANTS.map((bank) =>
      variable(bank, "CONCORD_PARTICIPANT_SECRET"),
    );
    for (const secret of pairs.values())
      expect(participantSecrets, "a peer secret is also a coordinator secret").to.not.include(
        secret,
      );
  });

  it("starts every Redis with small stream nodes, as the local cluster does (a transaction's event stream is small)", () => {
    for (const name of servicesWithImage("redis"))
      expect(settingIn(commandOf(service(name)), "stream-node-max-bytes"), name).to.equal("512");
  });

  it("keeps the data of every PostgreSQL and Redis in a declared named volume", () => {
    const dataDir = (name: string) =>
      service(name).image?.startsWith("postgres") ? "/var/lib/postgresql/data" : "/data";
    for (const name of [...servicesWithImage("postgres"), ...servicesWithImage("redis")]) {
      const mount = (service(name).volumes ?? []).find(
        (v): v is string => typeof v === "string" && v.endsWith(`:${dataDir(name)}`),
      );
      const volume = mount?.split(":")[0] ?? "";
      expect(Object.keys(compose.volumes ?? {}), name).to.include(volume);
    }
  });

  it("gives every service a healthcheck", () => {
    for (const [name, s] of Object.entries(compose.services))
      expect(s.healthcheck?.test.length ?? 0, `${name}: healthcheck.test`).to.be.greaterThan(0);
  });

  it("makes every depends_on name an existing service and wait until it is healthy", () => {
    for (const [name, s] of Object.entries(compose.services)) {
      for (const [dependency, condition] of dependenciesOf(s)) {
        expect(compose.services, `${name} -> ${dependency}`).to.have.property(dependency);
        expect(condition, `${name} -> ${dependency}`).to.equal("service_healthy");
      }
    }
  });

  it("starts each participant after its own PostgreSQL and Redis, and the coordinator after its Redis", () => {
    const needs = (name: string) => dependenciesOf(service(name)).map(([dependency]) => dependency);
    for (const bank of PARTICIPANTS)
      expect(needs(bank), bank).to.include.members([postgresOf(bank), redisOf(bank)]);
    expect(needs(COORDINATOR)).to.include(COORDINATOR_REDIS);
  });

  it("publishes only the coordinator's and the participants' ports, and only on 127.0.0.1", () => {
    for (const [name, s] of Object.entries(compose.services)) {
      const ports = s.ports ?? [];
      if (name !== COORDINATOR && !PARTICIPANTS.includes(name)) {
        expect(ports, `${name} publishes ports`).to.deep.equal([]);
        continue;
      }
      const port = variable(name, "CONCORD_PORT");
      expect(ports.map(String), name).to.deep.equal([`127.0.0.1:${port}:${port}`]);
    }
  });

  it("runs, from the Dockerfile and from every service's command, entrypoints compiled from existing TypeScript sources", () => {
    const dockerfile = readFileSync(resolve(ROOT, "Dockerfile"), "utf8");
    const dockerfileArgs = dockerfile.split("\n").flatMap((line) => execFormArgs(line));
    const entrypoints = [
      ...dockerfileArgs,
      ...Object.values(compose.services).flatMap(commandOf),
    ].filter((arg) => /^dist\/.+\.js$/.test(arg));
    expect(
      dockerfileArgs.filter((arg) => arg.startsWith("dist/")),
      "Dockerfile CMD",
    ).to.not.have.lengthOf(0);
    for (const entry of [COORDINATOR, ...PARTICIPANTS])
      expect(commandOf(service(entry)), entry).to.not.have.lengthOf(0);
    for (const file of entrypoints)
      expect(existsSync(resolve(ROOT, sourceOf(file))), `${file} <- ${sourceOf(file)}`).to.equal(
        true,
      );
  });
});

/** Every key set must be one the schema reads (a typo would be silently ignored), and every key the schema requires must be set. */
function expectEnvironmentMatches(name: string, schema: z.ZodObject<z.ZodRawShape>): void {
  const env = environmentOf(name);
  const shape = schema.shape;
  const required = Object.keys(shape).filter((key) => !shape[key]?.isOptional());
  expect(Object.keys(shape), `variables of ${name} unknown to its schema`).to.include.members(
    Object.keys(env),
  );
  expect(Object.keys(env), `variables ${name} must set`).to.include.members(required);
  const parsed = schema.safeParse(env);
  expect(parsed.success, JSON.stringify(parsed.error?.issues)).to.equal(true);
}

function participantRegistry(): Map<string, string> {
  const parsed = coordinatorEnvSchema.safeParse(environmentOf(COORDINATOR));
  if (!parsed.success)
    throw new Error(
      `the coordinator's environment does not parse: ${JSON.stringify(parsed.error.issues)}`,
    );
  return parsed.data.CONCORD_PARTICIPANTS ?? new Map<string, string>();
}

/** The arguments of a `CMD [...]` or `ENTRYPOINT [...]` line in exec form; nothing for other lines. */
function execFormArgs(line: string): string[] {
  const match = /^\s*(?:CMD|ENTRYPOINT)\s+(\[.*\])\s*$/i.exec(line);
  if (!match?.[1]) return [];
  const args: unknown = JSON.parse(match[1]);
  return Array.isArray(args) ? args.map(String) : [];
}

/** tsc maps `<dir>/x.ts` to `dist/<dir>/x.js` (rootDir is the repository root). */
function sourceOf(compiled: string): string {
  return compiled.replace(/^dist\//, "").replace(/\.js$/, ".ts");
}
