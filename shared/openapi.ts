/**
 * Each service's OpenAPI 3.1 document, served at `GET /openapi.json`. It is built at request time
 * from the routes mounted on the app (routes.ts `mountedRoutes`), so a route added by any code
 * appears without being listed here, with the zod schemas its handler parses with. A route that
 * express knows but that was mounted without `mountRoute` appears too, marked
 * `x-concord-undeclared`, so a test catches it.
 */
import { readFileSync } from "node:fs";
import type { Express } from "express";
import { z } from "zod";
import type { Authenticator, CallerKind } from "./auth.js";
import { mountedRoutes, mountRoute, type RouteSpec } from "./routes.js";
import {
  componentSchemas,
  ERROR_BODY_REF,
  jsonSchemaOf,
  type JsonSchema,
} from "./openapi-schemas.js";

export const OPENAPI_ROUTES = {
  document: {
    method: "GET",
    path: "/openapi.json",
    // Public: the document says which routes exist and what they take, which the README says
    // too; it holds no secret, and every route it lists still checks its own callers.
    callers: ["public"],
    summary:
      "this service's OpenAPI 3.1 document, generated from its routes and the zod schemas they check requests with",
    responses: {
      200: { description: "the OpenAPI 3.1 document", schema: z.record(z.string(), z.unknown()) },
    },
  },
} as const satisfies Record<string, RouteSpec>;

export interface OpenApiOptions {
  /** The service, e.g. "Concord coordinator". */
  title: string;
  description?: string;
  /** JSON Schema of the `operations` array a participant's application takes (its descriptor's). */
  operations?: JsonSchema;
}

export type OpenApiDocument = Record<string, unknown> & {
  paths: Record<string, Record<string, Operation>>;
};
type Operation = Record<string, unknown>;

/**
 * Mounts `GET /openapi.json`. Mount it after the app's other routes, for tidiness: the document
 * is rebuilt whenever the app has more routes, so routes mounted later are in it anyway.
 */
export function mountOpenApi(app: Express, auth: Authenticator, options: OpenApiOptions): void {
  let cached: { key: string; doc: OpenApiDocument } | undefined;
  mountRoute(app, auth, OPENAPI_ROUTES.document, (_req, res) => {
    const routes = expressRoutes(app);
    const key = `${String(mountedRoutes(app).length)}/${String(routes.length)}`;
    if (cached?.key !== key) cached = { key, doc: buildOpenApi(app, options) };
    res.json(cached.doc);
  });
}

/** The document for what `app` has mounted so far. */
export function buildOpenApi(app: Express, options: OpenApiOptions): OpenApiDocument {
  const paths: OpenApiDocument["paths"] = {};
  const add = (method: string, path: string, op: Operation) => {
    (paths[openApiPath(path)] ??= {})[method.toLowerCase()] = op;
  };
  const specs = mountedRoutes(app);
  for (const spec of specs) add(spec.method, spec.path, operationOf(spec));
  for (const r of expressRoutes(app)) {
    if (!specs.some((s) => s.method === r.method && s.path === r.path))
      add(r.method, r.path, undeclaredOperation(r.method, r.path));
  }
  return {
    openapi: "3.1.0",
    info: {
      title: options.title,
      version: packageVersion(),
      ...(options.description ? { description: options.description } : {}),
    },
    // Relative: the document is served by the service it describes, at whatever address.
    servers: [{ url: "/" }],
    paths,
    components: {
      schemas: componentSchemas(options.operations),
      securitySchemes: SECURITY_SCHEMES,
    },
  };
}

const SECURITY_SCHEMES = {
  bearer: {
    type: "http",
    scheme: "bearer",
    description:
      "Authorization: Bearer <a client's API key, or this service's admin or operator secret>",
  },
  signature: {
    type: "apiKey",
    in: "header",
    name: "Concord-Signature",
    description:
      "an HMAC-SHA256 signature over the request (README, Security: Signatures): the coordinator's, a participant's or a peer's",
  },
} as const;

const BEARER_KINDS: readonly CallerKind[] = ["client", "admin", "operator"];
const SIGNED_KINDS: readonly CallerKind[] = ["coordinator", "participant", "peer"];

function securityOf(callers: readonly CallerKind[]): Record<string, string[]>[] {
  if (callers.includes("public")) return [];
  return [
    ...(callers.some((c) => BEARER_KINDS.includes(c)) ? [{ bearer: [] }] : []),
    ...(callers.some((c) => SIGNED_KINDS.includes(c)) ? [{ signature: [] }] : []),
  ];
}

function operationOf(spec: RouteSpec): Operation {
  return {
    operationId: operationIdOf(spec.method, spec.path),
    summary: spec.summary,
    ...(spec.onlyWhen ? { description: `Exists only with ${spec.onlyWhen}.` } : {}),
    "x-concord-callers": spec.callers,
    ...(spec.onlyWhen ? { "x-concord-only-when": spec.onlyWhen } : {}),
    security: securityOf(spec.callers),
    parameters: parametersOf(spec),
    ...(spec.body ? { requestBody: requestBodyOf(spec.body) } : {}),
    responses: responsesOf(spec),
  };
}

/** A route express routes to that was not mounted with mountRoute: listed so that it is seen. */
function undeclaredOperation(method: string, path: string): Operation {
  return {
    operationId: operationIdOf(method, path),
    summary: "mounted without a RouteSpec (shared/routes.ts): callers and schemas unknown",
    "x-concord-undeclared": true,
    parameters: pathParams(path).map((name) => pathParameter(name, undefined)),
    responses: { default: errorResponse("an error") },
  };
}

function parametersOf(spec: RouteSpec): JsonSchema[] {
  const shape = (spec.query?.shape ?? {}) as Record<string, z.ZodTypeAny>;
  const query = Object.entries(shape).map(([name, schema]) => ({
    name,
    in: "query",
    required: !schema.isOptional(),
    schema: jsonSchemaOf(present(schema), "input"),
  }));
  const headers = Object.entries(spec.headers ?? {}).map(([name, schema]) => ({
    name,
    in: "header",
    required: false,
    schema: jsonSchemaOf(present(schema), "input"),
  }));
  return [
    ...pathParams(spec.path).map((name) => pathParameter(name, spec.params?.[name])),
    ...query,
    ...headers,
  ];
}

/** A parameter's schema when it is there: `required` says whether it may be absent. */
function present(schema: z.ZodTypeAny): z.ZodTypeAny {
  return schema instanceof z.ZodOptional ? (schema.unwrap() as z.ZodTypeAny) : schema;
}

function pathParameter(name: string, schema: z.ZodTypeAny | undefined): JsonSchema {
  return {
    name,
    in: "path",
    required: true,
    schema: schema ? jsonSchemaOf(schema, "input") : { type: "string" },
  };
}

function requestBodyOf(body: z.ZodTypeAny): JsonSchema {
  return {
    // A body that `{}` satisfies may be left out: the handlers read a missing body as `{}`.
    required: !body.safeParse({}).success,
    content: { "application/json": { schema: jsonSchemaOf(body, "input") } },
  };
}

function responsesOf(spec: RouteSpec): Record<string, JsonSchema> {
  const out: Record<string, JsonSchema> = {};
  for (const [status, r] of Object.entries(spec.responses ?? {})) {
    out[status] = {
      description: r.description,
      ...(r.schema
        ? {
            content: {
              [r.contentType ?? "application/json"]: { schema: jsonSchemaOf(r.schema, "output") },
            },
          }
        : {}),
    };
  }
  const takesInput = spec.body ?? spec.query ?? spec.headers ?? pathParams(spec.path)[0];
  if (takesInput !== undefined)
    out["400"] ??= errorResponse("invalid-request: error.field names what does not match");
  if (!spec.callers.includes("public")) {
    out["401"] ??= errorResponse("unauthorized: no valid credential for this route");
    out["403"] ??= errorResponse(
      "forbidden: a valid credential of a kind this route does not take",
    );
  }
  out.default = errorResponse("any other error (shared/wire-errors.ts lists the codes)");
  return out;
}

function errorResponse(description: string): JsonSchema {
  return { description, content: { "application/json": { schema: ERROR_BODY_REF } } };
}

/** `/v1/transactions/:txid` → `/v1/transactions/{txid}`. */
export function openApiPath(path: string): string {
  return path.replace(/:([a-z0-9][a-z0-9-]*)/g, "{$1}");
}

function pathParams(path: string): string[] {
  return [...path.matchAll(/:([a-z0-9][a-z0-9-]*)/g)].map((m) => m[1] ?? "");
}

function operationIdOf(method: string, path: string): string {
  const words = path.split(/[^A-Za-z0-9]+/).filter((w) => w !== "");
  return [method.toLowerCase(), ...words.map((w) => w.charAt(0).toUpperCase() + w.slice(1))].join(
    "",
  );
}

/** The routes express itself would route to: every `app.METHOD(path)`, however it was mounted. */
export function expressRoutes(app: Express): { method: string; path: string }[] {
  interface Layer {
    route?: { path: unknown; methods: Record<string, boolean> };
  }
  const stack = (app as unknown as { router?: { stack?: Layer[] } }).router?.stack ?? [];
  return stack.flatMap((layer) => {
    const route = layer.route;
    if (!route || typeof route.path !== "string") return [];
    const path = route.path;
    return Object.keys(route.methods)
      .filter((m) => m !== "_all")
      .map((m) => ({ method: m.toUpperCase(), path }));
  });
}

let version: string | undefined;

/** The package's version (package.json sits two folders above dist/shared in every install). */
function packageVersion(): string {
  version ??= (
    JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as {
      version: string;
    }
  ).version;
  return version;
}
