/**
 * Walks every route of a service with every credential and many spellings of its path, and says
 * where the answer differs from the security model (shared/routes.ts, shared/auth.ts):
 *
 * - the exact path with a credential the route takes (or a public route) reaches the handler;
 * - the exact path with any other credential, or none, is refused by the caller check (401, or
 *   403 for a bearer token valid at this service but of another kind), and never reaches it;
 * - any other spelling of the path matches no route, whatever the credential, even one the route
 *   takes: a request signed over `/v1/2pc/BATCH` is a valid signature over that path, so only
 *   routing stands between it and a handler.
 *
 * Requests go out through node:http with the path exactly as spelled (a WHATWG URL, fetch or axios
 * would normalise `/./`, `//` or percent-encodings and test something else), and signatures are
 * made over that exact spelling, as an attacker holding a peer's secret would make them.
 */
import { request, Agent, type IncomingHttpHeaders } from "node:http";
import { signerFor } from "../../shared/auth.js";
import type { CallerKind } from "../../shared/auth.js";
import type { RouteSpec } from "../../shared/routes.js";
import { peerPairKey, type ClusterFile } from "../../scripts/cluster/cluster-file.js";

type KindAt = (service: string) => CallerKind | undefined;

/** One way of presenting (or not) a credential. */
export interface Credential {
  /** For messages: "client-1 API key", "peer bank-b -> bank-a", ... */
  readonly name: string;
  readonly scheme: "none" | "bearer" | "signature";
  /** The kind of caller this credential proves at `service`; undefined where that service does not know it. */
  readonly kindAt: KindAt;
  /** The headers for one request, made over exactly what is sent. */
  readonly headers: (
    method: string,
    path: string,
    body: string,
    contentType: string,
  ) => Record<string, string>;
}

function bearer(name: string, token: string, kindAt: KindAt): Credential {
  return { name, scheme: "bearer", kindAt, headers: () => ({ authorization: `Bearer ${token}` }) };
}

function signature(
  name: string,
  p: { secret: string; keyId: string; audience: string },
  kindAt: KindAt,
): Credential {
  return { name, scheme: "signature", kindAt, headers: signerFor(p) };
}

function secret(from: Record<string, string>, key: string, what: string): string {
  const value = from[key];
  if (value === undefined || value === "")
    throw new Error(`the cluster file has no ${what} for ${key}`);
  return value;
}

/**
 * The credentials of the walk, from a cluster's secrets. `target` is the participant the
 * coordinator's signature is addressed to (the walked participant). bank-a, bank-b and bank-c
 * must exist: the peer credentials are between them.
 */
export function standardCredentials(cluster: ClusterFile, target = "bank-a"): Credential[] {
  const s = cluster.secrets;
  const only = (service: string, kind: CallerKind) => (at: string) =>
    at === service ? kind : undefined;
  const nowhere = () => undefined;
  const peerSecret = (a: string, b: string) =>
    secret(s.peerSecrets, peerPairKey(a, b), "peer secret");
  const participantSecret = (name: string) =>
    secret(s.participantSecrets, name, "participant secret");
  const peer = (from: string, to: string) =>
    signature(
      `peer ${from} -> ${to}`,
      { secret: peerSecret(from, to), keyId: from, audience: to },
      only(to, "peer"),
    );
  return [
    { name: "no credential", scheme: "none", kindAt: nowhere, headers: () => ({}) },
    bearer(
      "client-1 API key",
      secret(s.apiKeys, "client-1", "API key"),
      only("coordinator", "client"),
    ),
    bearer(
      "coordinator admin secret",
      secret(s.adminSecrets, "coordinator", "admin secret"),
      only("coordinator", "admin"),
    ),
    bearer(
      "coordinator operator secret",
      secret(s.operatorSecrets, "coordinator", "operator secret"),
      only("coordinator", "operator"),
    ),
    bearer(
      "bank-a operator secret",
      secret(s.operatorSecrets, "bank-a", "operator secret"),
      only("bank-a", "operator"),
    ),
    bearer(
      "bank-a admin secret",
      secret(s.adminSecrets, "bank-a", "admin secret"),
      only("bank-a", "admin"),
    ),
    bearer(
      "bank-b admin secret",
      secret(s.adminSecrets, "bank-b", "admin secret"),
      only("bank-b", "admin"),
    ),
    // As long as a real token, so that only its value, not its shape, is wrong.
    bearer("garbage bearer", "x".repeat(secret(s.apiKeys, "client-1", "API key").length), nowhere),
    signature(
      `coordinator-signed for ${target}`,
      { secret: participantSecret(target), keyId: "coordinator", audience: target },
      only(target, "coordinator"),
    ),
    signature(
      "participant-signed as bank-a",
      { secret: participantSecret("bank-a"), keyId: "bank-a", audience: "coordinator" },
      only("coordinator", "participant"),
    ),
    peer("bank-b", "bank-a"),
    // Valid, but addressed to bank-b: at bank-a it is a key bank-a does not know (its own name).
    peer("bank-a", "bank-b"),
    // Impersonation: bank-b's key id with a secret bank-b holds, but of another pair. bank-a must not take it.
    signature(
      "peer bank-b -> bank-a signed with the bank-b/bank-c secret",
      { secret: peerSecret("bank-b", "bank-c"), keyId: "bank-b", audience: "bank-a" },
      nowhere,
    ),
  ];
}

/** How one route is exercised: harmless inputs its handler refuses or answers without changing anything of value. */
export interface RouteProbe {
  readonly spec: RouteSpec;
  /** Values of the route's `:params`; called for every request, so each can use a fresh txid. */
  readonly params?: () => Record<string, string>;
  /** The JSON body of a POST or PUT. */
  readonly body?: unknown;
  /**
   * What the handler answers this probe with. A caller the route takes must get one of these: a
   * 415 or 400 from the body parser would otherwise pass for "reached".
   */
  readonly handlerStatuses: readonly number[];
}

/** Builds the probes of a whole route list; the mapped type makes leaving a route out a compile error. */
export function probesFor<R extends Record<string, RouteSpec>>(
  routes: R,
  how: { [K in keyof R]: Omit<RouteProbe, "spec"> },
): RouteProbe[] {
  return (Object.keys(routes) as (keyof R)[]).map(
    (key) => ({ spec: routes[key], ...how[key] }) as RouteProbe,
  );
}

type Segment = { literal: string } | { param: string };

function segmentsOf(path: string): Segment[] {
  return path
    .split("/")
    .slice(1)
    .map((s) => (s.startsWith(":") ? { param: s.slice(1) } : { literal: s }));
}

/** One spelling of a route's path. */
export interface Spelling {
  readonly name: string;
  readonly path: string;
}

/**
 * The exact path and its variants. Only literal segments are changed: a changed param value
 * matches the same route through the param (and the handler is right to run). Where a variant
 * is put is chosen so it cannot match another route through a param either (`%2F` goes between
 * two literal segments, never next to a param).
 */
export function spellingsOf(routePath: string, params: Record<string, string>): Spelling[] {
  const segments = segmentsOf(routePath);
  const value = (s: Segment) => {
    if ("literal" in s) return s.literal;
    const v = params[s.param];
    if (v === undefined) throw new Error(`no value for :${s.param} of ${routePath}`);
    return v;
  };
  const join = (parts: string[]) => `/${parts.join("/")}`;
  const exact = segments.map(value);
  const literalAt = segments.flatMap((s, i) => ("literal" in s ? [i] : []));
  const lastLiteral = literalAt[literalAt.length - 1];
  if (lastLiteral === undefined) throw new Error(`route ${routePath} has no literal segment`);
  const replaced = (i: number, text: string) => join(exact.map((p, j) => (j === i ? text : p)));
  /** `text` with the character at `at` replaced by `by`. */
  const swap = (text: string, at: number, by: string) =>
    text.slice(0, at) + by + text.slice(at + 1);

  const out: Spelling[] = [{ name: "exact", path: join(exact) }];
  out.push({
    name: "upper case",
    path: join(segments.map((s) => ("literal" in s ? s.literal.toUpperCase() : value(s)))),
  });
  for (const i of literalAt) {
    const lit = exact[i] ?? "";
    const letter = lit.search(/[a-z]/);
    if (letter >= 0)
      out.push({
        name: `"${lit}" capitalised`,
        path: replaced(i, swap(lit, letter, lit.charAt(letter).toUpperCase())),
      });
  }
  out.push({ name: "trailing slash", path: `${join(exact)}/` });
  const last = exact[lastLiteral] ?? "";
  const letter = last.search(/[a-z]/);
  if (letter >= 0) {
    const encoded = `%${last.charCodeAt(letter).toString(16).toUpperCase()}`;
    out.push({
      name: `a letter of "${last}" percent-encoded`,
      path: replaced(lastLiteral, swap(last, letter, encoded)),
    });
  }
  if (lastLiteral > 0)
    out.push({ name: `double slash before "${last}"`, path: replaced(lastLiteral, `/${last}`) });
  out.push({ name: "leading //", path: `/${join(exact)}` });
  out.push({ name: `/./ before "${last}"`, path: replaced(lastLiteral, `./${last}`) });
  out.push({ name: `";x" after "${last}"`, path: replaced(lastLiteral, `${last};x`) });
  // %2F for each slash between two literal segments (next to a param it could legitimately
  // become part of the param's value); a one-segment path gets it at its end.
  const pairs = literalAt.filter((i) => literalAt.includes(i + 1));
  for (const pair of pairs) {
    const parts = [...exact];
    parts.splice(pair, 2, `${exact[pair]}%2F${exact[pair + 1]}`);
    out.push({ name: `%2F between "${exact[pair]}" and "${exact[pair + 1]}"`, path: join(parts) });
  }
  if (pairs.length === 0) out.push({ name: `%2F after "${last}"`, path: `${join(exact)}%2F` });
  return out;
}

export interface RawResponse {
  /** 0 when the connection ended without an answer. */
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
  error?: string;
}

export interface RawRequest {
  method: string;
  /** The request target exactly as it goes on the wire. */
  path: string;
  headers: Record<string, string>;
  body: string;
  agent?: Agent;
}

/** One request with the path exactly as given: node:http sends `path` as the request target, untouched. */
export function rawRequest(baseUrl: string, p: RawRequest): Promise<RawResponse> {
  // Only the host and port come from the URL parser; the path never goes through it.
  const base = new URL(baseUrl);
  const headers = { ...p.headers, "content-length": String(Buffer.byteLength(p.body)) };
  return new Promise((resolve) => {
    const options = {
      hostname: base.hostname,
      port: base.port,
      method: p.method,
      path: p.path,
      headers,
      agent: p.agent,
      timeout: 30_000,
    };
    const req = request(options, (res) => {
      const chunks: Buffer[] = [];
      const answer = (error?: string) => {
        const text = Buffer.concat(chunks).toString("utf8");
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          text,
          ...(error === undefined ? {} : { error }),
        });
      };
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        answer();
      });
      res.on("error", (err) => {
        answer(err.message);
      });
    });
    req.on("timeout", () => req.destroy(new Error("timed out after 30 s")));
    req.on("error", (err) => {
      resolve({ status: 0, headers: {}, text: "", error: err.message });
    });
    req.end(p.body);
  });
}

/**
 * What became of a request:
 * - `no-route`: our 404 for a path no route matches (error.message "no route for ...");
 * - `refused`: the caller check said no (401 unauthorized, or 403 forbidden with its wording);
 * - `http-layer`: a 400 without our error body (Node's parser refusing the request target);
 * - `no-answer`: the connection ended without a status;
 * - `reached`: anything else, which only a handler (or what runs after routing) can produce.
 */
export type Outcome = "no-route" | "refused" | "http-layer" | "no-answer" | "reached";

function errorOf(text: string): { code?: unknown; message?: unknown } | undefined {
  try {
    const body = JSON.parse(text) as { error?: { code?: unknown; message?: unknown } } | null;
    return body?.error ?? undefined;
  } catch {
    return undefined;
  }
}

export function classify(res: RawResponse): Outcome {
  if (res.status === 0) return "no-answer";
  const error = errorOf(res.text);
  const message = typeof error?.message === "string" ? error.message : "";
  if (res.status === 404 && error?.code === "not-found" && message.startsWith("no route for "))
    return "no-route";
  if (res.status === 401 && error?.code === "unauthorized") return "refused";
  // A handler may answer 403 too (a participant asking about another's transaction): the
  // authenticator's wording tells its refusal apart.
  if (
    res.status === 403 &&
    error?.code === "forbidden" &&
    / cannot call this route; it is for /.test(message)
  )
    return "refused";
  if (res.status === 400 && error === undefined) return "http-layer";
  return "reached";
}

export interface WalkTarget {
  /** The service's name, as credentials know it ("coordinator", "bank-a"). */
  readonly service: string;
  readonly baseUrl: string;
  readonly probes: readonly RouteProbe[];
  /** The routes must not exist here at all: every request, exact or not, must find no route. */
  readonly absent?: boolean;
}

export interface WalkResult {
  sent: number;
  /** One line per request whose answer broke the model, naming route, credential and spelling. */
  mismatches: string[];
  /** Counts by "exact|variant outcome status", for the test output. */
  tally: Map<string, number>;
}

interface Job {
  probe: RouteProbe;
  credential: Credential;
  spellingIndex: number;
}

/** What the model says a request must get. */
type Expectation =
  | { reached: true; statuses: readonly number[] }
  | { reached: false; outcomes: readonly Outcome[]; status?: number };

function expectationFor(target: WalkTarget, job: Job, spelling: Spelling): Expectation {
  // A different spelling matches nothing. Node may refuse a target before routing (400).
  if (target.absent || spelling.name !== "exact")
    return { reached: false, outcomes: ["no-route", "http-layer"] };
  const { spec } = job.probe;
  const kind = job.credential.kindAt(target.service);
  const allowed =
    spec.callers.includes("public") || (kind !== undefined && spec.callers.includes(kind));
  if (allowed) return { reached: true, statuses: job.probe.handlerStatuses };
  // 403 only for a bearer token valid here but of another kind; a signature the route does not
  // take is refused as an unknown key (401), as is every other credential.
  return {
    reached: false,
    outcomes: ["refused"],
    status: job.credential.scheme === "bearer" && kind !== undefined ? 403 : 401,
  };
}

function shown(res: RawResponse): string {
  if (res.status === 0) return `no answer (${res.error ?? "?"})`;
  const text = res.text.length > 160 ? `${res.text.slice(0, 160)}…` : res.text;
  return `${res.status} ${text}`;
}

/**
 * Sends route × credential × spelling, `concurrency` at a time. Each request is signed when it
 * is sent (a signature is good for 30 s), with a fresh nonce, over its exact path and body.
 */
export async function walkRoutes(
  target: WalkTarget,
  credentials: readonly Credential[],
  opts: { concurrency?: number } = {},
): Promise<WalkResult> {
  const jobs: Job[] = [];
  for (const probe of target.probes) {
    const count = spellingsOf(probe.spec.path, probe.params?.() ?? {}).length;
    for (const credential of credentials) {
      for (let spellingIndex = 0; spellingIndex < count; spellingIndex++)
        jobs.push({ probe, credential, spellingIndex });
    }
  }
  const result: WalkResult = { sent: 0, mismatches: [], tally: new Map() };
  const agent = new Agent({ keepAlive: true, maxSockets: opts.concurrency ?? 4 });
  let next = 0;
  const worker = async () => {
    for (let job = jobs[next++]; job !== undefined; job = jobs[next++])
      await runJob(target, job, agent, result);
  };
  try {
    await Promise.all(Array.from({ length: opts.concurrency ?? 4 }, worker));
  } finally {
    agent.destroy();
  }
  result.mismatches.sort();
  return result;
}

async function runJob(
  target: WalkTarget,
  job: Job,
  agent: Agent,
  result: WalkResult,
): Promise<void> {
  const { spec } = job.probe;
  const spelling = spellingsOf(spec.path, job.probe.params?.() ?? {})[job.spellingIndex];
  if (!spelling) throw new Error(`no spelling ${job.spellingIndex} of ${spec.path}`);
  const hasBody = spec.method === "POST" || spec.method === "PUT";
  const body = hasBody ? JSON.stringify(job.probe.body ?? {}) : "";
  // The Content-Type is covered by the signature: it is signed exactly as sent.
  const contentType = hasBody ? "application/json" : "";
  const headers = {
    ...(hasBody ? { "content-type": contentType } : {}),
    ...job.credential.headers(spec.method, spelling.path, body, contentType),
  };
  const res = await rawRequest(target.baseUrl, {
    method: spec.method,
    path: spelling.path,
    headers,
    body,
    agent,
  });
  result.sent += 1;
  const outcome = classify(res);
  const key = `${spelling.name === "exact" ? "exact" : "variant"} ${outcome} ${res.status}`;
  result.tally.set(key, (result.tally.get(key) ?? 0) + 1);

  const expected = expectationFor(target, job, spelling);
  const where = `${target.service} ${spec.method} ${spec.path} | ${job.credential.name} | ${spelling.name} (${spelling.path})`;
  if (expected.reached) {
    if (outcome !== "reached")
      result.mismatches.push(`${where}: should reach the handler, got ${outcome}: ${shown(res)}`);
    else if (!expected.statuses.includes(res.status)) {
      result.mismatches.push(
        `${where}: the handler should answer ${expected.statuses.join("/")}, got ${shown(res)}`,
      );
    }
    return;
  }
  if (outcome === "reached") {
    result.mismatches.push(
      `${where}: HANDLER REACHED (${shown(res)}); expected ${expected.outcomes.join(" or ")}`,
    );
    return;
  }
  if (
    !expected.outcomes.includes(outcome) ||
    (expected.status !== undefined && res.status !== expected.status)
  ) {
    const want = `${expected.outcomes.join(" or ")}${expected.status ? ` ${expected.status}` : ""}`;
    result.mismatches.push(`${where}: expected ${want}, got ${outcome}: ${shown(res)}`);
  }
}

/** The tally as lines for the test output: "variant no-route 404: 1210". */
export function formatTally(result: WalkResult): string {
  return [...result.tally.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, n]) => `  ${k}: ${n}`)
    .join("\n");
}
