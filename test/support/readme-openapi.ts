/**
 * Holds the README's curl calls to the OpenAPI documents of the services they call: each call
 * goes to a documented operation, its body matches the operation's request schema, its query
 * parameters theirs, and the answer it got the schema documented for the status it got.
 */
import type { CurlCall } from "./curl-log.js";
import {
  DocValidator,
  findOperation,
  requestSchemaOf,
  responseSchemaOf,
  type Json,
  type OpenApiDoc,
} from "./openapi-check.js";

/** A service's document, fetched from the origin a call went to. */
export async function fetchOpenApi(origin: string): Promise<OpenApiDoc> {
  const res = await fetch(`${origin}/openapi.json`);
  if (res.status !== 200) throw new Error(`${origin}/openapi.json answered ${String(res.status)}`);
  return (await res.json()) as OpenApiDoc;
}

/** What does not match, one line per problem; empty when every call is documented. */
export async function undocumentedCalls(calls: readonly CurlCall[]): Promise<string[]> {
  const docs = new Map<string, { doc: OpenApiDoc; validator: DocValidator }>();
  const problems: string[] = [];
  for (const call of calls) {
    const url = new URL(call.url);
    let service = docs.get(url.origin);
    if (!service) {
      const doc = await fetchOpenApi(url.origin);
      service = { doc, validator: new DocValidator(doc) };
      docs.set(url.origin, service);
    }
    const where = `${call.method} ${url.pathname}${url.search} (${service.doc.info.title})`;
    problems.push(...callProblems(call, url, service).map((p) => `${where}: ${p}`));
  }
  return problems;
}

function callProblems(
  call: CurlCall,
  url: URL,
  { doc, validator }: { doc: OpenApiDoc; validator: DocValidator },
): string[] {
  const found = findOperation(doc, call.method, url.pathname);
  if (!found) return ["no such operation in the service's document"];
  const problems: string[] = [];
  if (call.data !== undefined) {
    const schema = requestSchemaOf(found.op);
    const problem = schema
      ? validator.problem(schema, JSON.parse(call.data))
      : "the call sends a body; the operation documents none";
    if (problem) problems.push(`request body: ${problem}`);
  }
  const params = (found.op.parameters ?? []) as { name: string; in: string; schema: Json }[];
  for (const [name, value] of url.searchParams) {
    const param = params.find((p) => p.in === "query" && p.name === name);
    const problem = param
      ? validator.problem(param.schema, value)
      : "not a documented query parameter";
    if (problem) problems.push(`query ${name}: ${problem}`);
  }
  const schema = responseSchemaOf(found.op, call.status);
  const problem = schema
    ? validator.problem(schema, JSON.parse(call.body))
    : `no answer documented for status ${String(call.status)}`;
  if (problem) problems.push(`answer ${String(call.status)}: ${problem}`);
  return problems;
}
