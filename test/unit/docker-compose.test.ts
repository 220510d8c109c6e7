/**
 * No Docker engine runs where the tests run, so docker-compose.yml must be right by
 * construction: these tests hold it to the configuration schemas and to the durability rules
 * the services enforce at start-up, so a container stack that would refuse to start (or worse,
 * start without durability) fails here instead.
 */
import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { expect } from "chai";
import { COMPOSE_SECRETS } from "../../scripts/compose-secrets.js";
import { parse } from "yaml";
import { z } from "zod";
import { coordinatorEnvSchema, participantEnvSchema } from "../../shared/config.js";
import { bankNames } from "../../scripts/cluster/cluster.js";

const ROOT = process.cwd();
// The containers describe the same topology as the local cluster's default.
const BANKS = bankNames(3);
const COORDINATOR = "coordinator";
const COORDINATOR_REDIS = "redis-coordinator";
const postgresOf = (bank: string) => `postgres-${bank}`;
const redisOf = (bank: string) => `redis-${bank}`;

const stringList = z.union([z.string(), z.array(z.string())]);
const serviceSchema = z
  .object({
    image: z.string().optional(),
    command: stringList.optional(),
    environment: z.union([z.record(z.union([z.string(), z.number(), z.boolean(), z.null()])), z.array(z.string())]).optional(),
    healthcheck: z.object({ test: stringList }).passthrough().optional(),
    depends_on: z.union([z.array(z.string()), z.record(z.object({ condition: z.string().optional() }).passthrough())]).optional(),
    ports: z.array(z.union([z.string(), z.number(), z.object({}).passthrough()])).optional(),
    volumes: z.array(z.union([z.string(), z.object({}).passthrough()])).optional(),
  })
  .passthrough();
type Service = z.infer<typeof serviceSchema>;
const composeSchema = z.object({ services: z.record(serviceSchema), volumes: z.record(z.unknown()).optional() }).passthrough();

const compose = composeSchema.parse(parse(readFileSync(resolve(ROOT, "docker-compose.yml"), "utf8")));

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
  return value.replace(/\$\$|\$\{([A-Za-z_]\w*)(?:(:?[-?])([^}]*))?\}|\$([A-Za-z_]\w*)/g, (match, braced?: string, op?: string, arg?: string, bare?: string) => {
    if (match === "$$") return "$";
    if (op?.endsWith("-")) return arg ?? "";
    // Long enough for the schemas' minimum secret length (32).
    return `stand-in-for-${braced ?? bare ?? ""}-0123456789abcdef0123456789abcdef`;
  });
}

function environmentOf(name: string): Record<string, string> {
  const env = service(name).environment ?? {};
  const pairs = Array.isArray(env) ? env.map((item) => [item.slice(0, item.indexOf("=")), item.slice(item.indexOf("=") + 1)]) : Object.entries(env);
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
  return (typeof command === "string" ? command.split(/\s+/).filter(Boolean) : command).map(interpolate);
}

function dependenciesOf(s: Service): Array<[string, string | undefined]> {
  const deps = s.depends_on ?? [];
  return Array.isArray(deps) ? deps.map((d): [string, string | undefined] => [d, undefined]) : Object.entries(deps).map(([d, v]): [string, string | undefined] => [d, v.condition]);
}

/** Redis and PostgreSQL take `--name value` / `-c name=value`; both forms end up as one setting. */
function settingIn(command: string[], name: string): string | undefined {
  const flag = command.indexOf(`--${name}`);
  if (flag >= 0) return command[flag + 1];
  const assignment = command.find((arg) => arg.startsWith(`${name}=`));
  return assignment?.slice(name.length + 1);
}

const servicesWithImage = (prefix: string) => Object.keys(compose.services).filter((name) => service(name).image?.startsWith(prefix));
const effectivePort = (url: URL) => Number(url.port || (url.protocol === "https:" ? 443 : 80));

describe("docker-compose.yml", () => {
  it("declares the coordinator, its Redis, and per bank a participant, its PostgreSQL and its Redis", () => {
    const expected = [COORDINATOR, COORDINATOR_REDIS, ...BANKS.flatMap((bank) => [bank, postgresOf(bank), redisOf(bank)])];
    expect(Object.keys(compose.services)).to.include.members(expected);
  });

  it("sets on the coordinator only variables its schema defines, and every variable it requires", () => {
    expectEnvironmentMatches(COORDINATOR, coordinatorEnvSchema);
  });

  for (const bank of BANKS) {
    it(`sets on participant ${bank} only variables its schema defines, and every variable it requires`, () => {
      expectEnvironmentMatches(bank, participantEnvSchema);
    });
  }

  it("names each participant after its service, so the coordinator's names and the gids agree", () => {
    for (const bank of BANKS) expect(variable(bank, "CONCORD_PARTICIPANT_NAME"), bank).to.equal(bank);
  });

  it("binds the coordinator and every participant to 0.0.0.0, or no other container could reach them", () => {
    for (const name of [COORDINATOR, ...BANKS]) expect(variable(name, "CONCORD_HOST"), name).to.equal("0.0.0.0");
  });

  it("gives CONCORD_PARTICIPANTS a value the coordinator accepts, naming exactly the participant services", () => {
    expect([...participantRegistry().keys()]).to.have.members([...BANKS]);
  });

  it("points each entry of CONCORD_PARTICIPANTS at that participant's host name and CONCORD_PORT", () => {
    for (const [name, raw] of participantRegistry()) {
      const url = new URL(raw);
      expect(url.hostname, name).to.equal(name);
      expect(effectivePort(url), name).to.equal(participantEnvSchema.parse(environmentOf(name)).CONCORD_PORT);
    }
  });

  it("points every participant at the coordinator's service and port", () => {
    const coordinatorPort = coordinatorEnvSchema.parse(environmentOf(COORDINATOR)).CONCORD_PORT;
    for (const bank of BANKS) {
      const url = new URL(variable(bank, "CONCORD_COORDINATOR_URL"));
      expect([url.hostname, effectivePort(url)], bank).to.deep.equal([COORDINATOR, coordinatorPort]);
    }
  });

  it("gives each participant every other participant as a peer, at its service and port", () => {
    for (const bank of BANKS) {
      const peers = participantEnvSchema.parse(environmentOf(bank)).CONCORD_PEERS ?? new Map<string, string>();
      expect([...peers.keys()].sort(), bank).to.deep.equal(BANKS.filter((b) => b !== bank).sort());
      for (const [peer, raw] of peers) {
        const url = new URL(raw);
        expect([url.hostname, effectivePort(url)], `${bank} -> ${peer}`).to.deep.equal([peer, participantEnvSchema.parse(environmentOf(peer)).CONCORD_PORT]);
      }
    }
  });

  it("connects each participant to its own PostgreSQL service", () => {
    for (const bank of BANKS) expect(new URL(variable(bank, "CONCORD_DATABASE_URL")).hostname, bank).to.equal(postgresOf(bank));
  });

  it("uses in each CONCORD_DATABASE_URL the user, password and database its PostgreSQL creates", () => {
    for (const bank of BANKS) {
      const url = new URL(variable(bank, "CONCORD_DATABASE_URL"));
      const pg = postgresOf(bank);
      const actual = [url.username, decodeURIComponent(url.password), url.pathname.slice(1)];
      expect(actual, bank).to.deep.equal([variable(pg, "POSTGRES_USER"), variable(pg, "POSTGRES_PASSWORD"), variable(pg, "POSTGRES_DB")]);
    }
  });

  it("gives each participant its own journal Redis: not the coordinator's, and shared with no peer", () => {
    const hosts = BANKS.map((bank) => new URL(variable(bank, "CONCORD_REDIS_URL")).hostname);
    expect(hosts).to.deep.equal(BANKS.map(redisOf));
    expect(new URL(variable(COORDINATOR, "CONCORD_REDIS_URL")).hostname).to.equal(COORDINATOR_REDIS);
  });

  it("authenticates every Redis URL with the password its Redis requires", () => {
    const urls = [[COORDINATOR, COORDINATOR_REDIS], ...BANKS.map((bank) => [bank, redisOf(bank)])] as const;
    for (const [client, redis] of urls) {
      const password = decodeURIComponent(new URL(variable(client, "CONCORD_REDIS_URL")).password);
      expect(password, client).to.not.equal("");
      expect(password, client).to.equal(settingIn(commandOf(service(redis)), "requirepass"));
    }
  });

  it("starts every PostgreSQL with max_prepared_transactions > 0, as PREPARE TRANSACTION needs", () => {
    const postgres = servicesWithImage("postgres");
    expect(postgres).to.include.members(BANKS.map(postgresOf));
    for (const name of postgres) expect(Number(settingIn(commandOf(service(name)), "max_prepared_transactions")), name).to.be.greaterThan(0);
  });

  it("starts every Redis with appendonly yes and appendfsync always, as the durable log requires", () => {
    const redis = servicesWithImage("redis");
    expect(redis).to.include.members([COORDINATOR_REDIS, ...BANKS.map(redisOf)]);
    for (const name of redis) {
      const command = commandOf(service(name));
      expect([settingIn(command, "appendonly"), settingIn(command, "appendfsync")], name).to.deep.equal(["yes", "always"]);
    }
  });

  it("requires exactly the secrets that npm run compose-env generates, each at least 32 characters where a schema checks it", () => {
    const raw = readFileSync(resolve(ROOT, "docker-compose.yml"), "utf8");
    const required = new Set([...raw.matchAll(/\$\{([A-Z_]+):\?[^}]*\}/g)].map((m) => m[1]));
    expect([...required].sort()).to.deep.equal([...COMPOSE_SECRETS].sort());
  });

  it("starts every Redis with small stream nodes, as the local cluster does (a transaction's event stream is small)", () => {
    for (const name of servicesWithImage("redis")) expect(settingIn(commandOf(service(name)), "stream-node-max-bytes"), name).to.equal("512");
  });

  it("keeps the data of every PostgreSQL and Redis in a declared named volume", () => {
    const dataDir = (name: string) => (service(name).image?.startsWith("postgres") ? "/var/lib/postgresql/data" : "/data");
    for (const name of [...servicesWithImage("postgres"), ...servicesWithImage("redis")]) {
      const mount = (service(name).volumes ?? []).find((v): v is string => typeof v === "string" && v.endsWith(`:${dataDir(name)}`));
      const volume = mount?.split(":")[0] ?? "";
      expect(Object.keys(compose.volumes ?? {}), name).to.include(volume);
    }
  });

  it("gives every service a healthcheck", () => {
    for (const [name, s] of Object.entries(compose.services)) expect(s.healthcheck?.test?.length ?? 0, `${name}: healthcheck.test`).to.be.greaterThan(0);
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
    for (const bank of BANKS) expect(needs(bank), bank).to.include.members([postgresOf(bank), redisOf(bank)]);
    expect(needs(COORDINATOR)).to.include(COORDINATOR_REDIS);
  });

  it("publishes only the coordinator's and the participants' ports, and only on 127.0.0.1", () => {
    for (const [name, s] of Object.entries(compose.services)) {
      const ports = s.ports ?? [];
      if (name !== COORDINATOR && !BANKS.includes(name)) {
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
    const entrypoints = [...dockerfileArgs, ...Object.values(compose.services).flatMap(commandOf)].filter((arg) => /^dist\/.+\.js$/.test(arg));
    expect(dockerfileArgs.filter((arg) => arg.startsWith("dist/")), "Dockerfile CMD").to.not.have.lengthOf(0);
    for (const entry of [COORDINATOR, ...BANKS]) expect(commandOf(service(entry)), entry).to.not.have.lengthOf(0);
    for (const file of entrypoints) expect(existsSync(resolve(ROOT, sourceOf(file))), `${file} <- ${sourceOf(file)}`).to.equal(true);
  });
});

/** Every key set must be one the schema reads (a typo would be silently ignored), and every key the schema requires must be set. */
function expectEnvironmentMatches(name: string, schema: z.AnyZodObject): void {
  const env = environmentOf(name);
  const shape: Record<string, z.ZodTypeAny> = schema.shape;
  const required = Object.keys(shape).filter((key) => !shape[key]?.isOptional());
  expect(Object.keys(shape), `variables of ${name} unknown to its schema`).to.include.members(Object.keys(env));
  expect(Object.keys(env), `variables ${name} must set`).to.include.members(required);
  const parsed = schema.safeParse(env);
  expect(parsed.success, JSON.stringify(parsed.error?.issues)).to.equal(true);
}

function participantRegistry(): Map<string, string> {
  const parsed = coordinatorEnvSchema.safeParse(environmentOf(COORDINATOR));
  if (!parsed.success) throw new Error(`the coordinator's environment does not parse: ${JSON.stringify(parsed.error.issues)}`);
  return parsed.data.CONCORD_PARTICIPANTS;
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
