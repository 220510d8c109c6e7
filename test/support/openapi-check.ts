/**
 * Checks on a service's OpenAPI document (shared/openapi.ts): its structure, that every schema
 * in it compiles with ajv (draft 2020-12), that every route has a RouteSpec and every route
 * taking a body names its schema; and lookups of the operation a request goes to, with
 * validators for its body and answers.
 */
import type { ErrorObject, ValidateFunction } from "ajv";
import Ajv2020Module from "ajv/dist/2020.js";

// The CommonJS default export, seen from ESM (as in coordinator/schema-check.ts).
const Ajv2020 = (Ajv2020Module as unknown as { default: typeof Ajv2020Module.default }).default;

export type Json = Record<string, unknown>;
export interface OpenApiDoc extends Json {
  openapi: string;
  info: { title: string; version: string };
  paths: Record<string, Record<string, Json>>;
  components: { schemas: Record<string, Json>; securitySchemes: Record<string, Json> };
}

export interface DocOperation {
  method: string;
  /** The OpenAPI path, `/v1/transactions/{txid}`. */
  template: string;
  op: Json;
}

const METHODS = ["get", "put", "post", "delete", "patch", "head", "options"];

export function operationsOf(doc: OpenApiDoc): DocOperation[] {
  return Object.entries(doc.paths).flatMap(([template, item]) =>
    Object.entries(item)
      .filter(([m]) => METHODS.includes(m))
      .map(([m, op]) => ({ method: m.toUpperCase(), template, op })),
  );
}

/** The operation `method path` goes to: a literal segment matches itself, `{x}` any one segment. */
export function findOperation(
  doc: OpenApiDoc,
  method: string,
  path: string,
): DocOperation | undefined {
  const matches = operationsOf(doc).filter(
    (o) => o.method === method.toUpperCase() && templateRegex(o.template).test(path),
  );
  // A literal segment wins over a parameter (`/v1/2pc/batch` over `/v1/2pc/{txid}`).
  return matches.sort((a, b) => paramCount(a.template) - paramCount(b.template))[0];
}

function templateRegex(template: string): RegExp {
  const escaped = template
    .split(/(\{[^}]+\})/)
    .map((part) => (part.startsWith("{") ? "[^/]+" : part.replace(/[.*+?^$()|[\]\\]/g, "\\$&")))
    .join("");
  return new RegExp(`^${escaped}$`);
}

const paramCount = (template: string) => (template.match(/\{/g) ?? []).length;

/** Compiles schemas of `doc`, resolving its `#/components/schemas/...` references. */
export class DocValidator {
  private readonly ajv;

  constructor(doc: OpenApiDoc) {
    this.ajv = new Ajv2020({ strict: true, allErrors: false });
    // zod-to-json-schema's custom messages, in a participant's published operations schema.
    this.ajv.addKeyword("errorMessage");
    this.ajv.addFormat("date-time", {
      type: "string",
      validate: (s: string) =>
        /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/.test(s) &&
        !Number.isNaN(Date.parse(s)),
    });
    this.ajv.addSchema({ $id: "components", $defs: rewriteRefs(doc.components.schemas) });
  }

  compile(schema: Json): ValidateFunction {
    return this.ajv.compile(rewriteRefs(schema));
  }

  /** undefined when `value` matches `schema`, else what does not. */
  problem(schema: Json, value: unknown): string | undefined {
    const validate = this.compile(schema);
    if (validate(value)) return undefined;
    return (validate.errors ?? [])
      .map((e: ErrorObject) => `${e.instancePath || "/"} ${e.message ?? "invalid"}`)
      .join("; ");
  }
}

function rewriteRefs<T>(schema: T): T {
  return JSON.parse(
    JSON.stringify(schema).replaceAll('"#/components/schemas/', '"components#/$defs/'),
  ) as T;
}

/** The JSON schema of an operation's body, and of its answer with `status` (or the default). */
export function requestSchemaOf(op: Json): Json | undefined {
  const body = op.requestBody as { content?: Record<string, { schema?: Json }> } | undefined;
  return body?.content?.["application/json"]?.schema;
}

export function responseSchemaOf(op: Json, status: number): Json | undefined {
  const responses = op.responses as Record<string, { content?: Record<string, { schema?: Json }> }>;
  const answer = responses[String(status)] ?? responses.default;
  return answer?.content?.["application/json"]?.schema;
}

/** Everything wrong with a document; empty when nothing is. */
export function documentProblems(doc: OpenApiDoc): string[] {
  const problems: string[] = [];
  if (doc.openapi !== "3.1.0") problems.push(`openapi is ${doc.openapi}, not 3.1.0`);
  if (typeof doc.info.title !== "string" || !/^\d+\.\d+\.\d+/.test(doc.info.version))
    problems.push("info needs a title and the package's version");
  const validator = new DocValidator(doc);
  for (const { method, template, op } of operationsOf(doc))
    problems.push(
      ...operationProblems(doc, validator, op, method, template).map(
        (p) => `${method} ${template}: ${p}`,
      ),
    );
  return problems;
}

function operationProblems(
  doc: OpenApiDoc,
  validator: DocValidator,
  op: Json,
  method: string,
  template: string,
): string[] {
  if (op["x-concord-undeclared"] === true)
    return ["mounted without a RouteSpec (use mountRoute with a spec, shared/routes.ts)"];
  const problems: string[] = [];
  if ((method === "POST" || method === "PUT") && requestSchemaOf(op) === undefined)
    problems.push("takes a body but names no body schema (RouteSpec.body)");
  const responses = op.responses as Record<string, Json> | undefined;
  if (!Object.keys(responses ?? {}).some((s) => /^2\d\d$/.test(s)))
    problems.push("documents no success answer (RouteSpec.responses)");
  const params = (op.parameters as { name: string; in: string; schema?: Json }[] | undefined) ?? [];
  for (const name of template.match(/\{([^}]+)\}/g) ?? [])
    if (!params.some((p) => p.in === "path" && `{${p.name}}` === name))
      problems.push(`path parameter ${name} is not declared`);
  for (const s of (op.security as Record<string, unknown>[] | undefined) ?? [])
    for (const scheme of Object.keys(s))
      if (!(scheme in doc.components.securitySchemes))
        problems.push(`security scheme ${scheme} is not defined`);
  const schemas = [
    ...params.flatMap((p) => (p.schema ? [p.schema] : [])),
    ...Object.values(responses ?? {}).flatMap((r) =>
      Object.values((r.content ?? {}) as Record<string, { schema?: Json }>).flatMap((c) =>
        c.schema ? [c.schema] : [],
      ),
    ),
    ...(requestSchemaOf(op) ? [requestSchemaOf(op) as Json] : []),
  ];
  for (const schema of schemas) {
    try {
      validator.compile(schema);
    } catch (err) {
      problems.push(`a schema does not compile: ${(err as Error).message}`);
    }
  }
  return problems;
}
