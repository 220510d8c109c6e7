import { expect } from "chai";
import { readFileSync } from "node:fs";
import type { Server } from "node:http";
import { join } from "node:path";
import type { AddressInfo } from "node:net";
import type { Express } from "express";
import { z } from "zod";
import type { Authenticator } from "../../shared/auth.js";
import { createApp, finishApp, listen } from "../../shared/http-server.js";
import { txidSchema } from "../../shared/messages.js";
import { SERVICES } from "../../scripts/route-table.js";
import { buildOpenApi, mountOpenApi, OPENAPI_ROUTES } from "../../shared/openapi.js";
import { mountRoute, type RouteSpec } from "../../shared/routes.js";
import { wireErrorSchema } from "../../shared/wire-errors.js";
import { documentProblems, findOperation, type OpenApiDoc } from "../support/openapi-check.js";
import { undocumentedCalls } from "../support/readme-openapi.js";

/** Lets every request through: the document, not the caller check, is under test here. */
const anyone = { authenticate: () => ({ kind: "public", id: "test" }) } as unknown as Authenticator;

const thingSchema = z.object({ id: z.string(), size: z.number().int() });
const ROUTES = {
  make: {
    method: "POST",
    path: "/v1/things",
    callers: ["admin"],
    summary: "makes a thing",
    body: z.object({ id: z.string().min(1), size: z.number().int().min(1) }).strict(),
    responses: {
      201: { description: "made", schema: thingSchema },
      409: { description: "exists", schema: wireErrorSchema },
    },
  },
  get: {
    method: "GET",
    path: "/v1/things/:txid",
    callers: ["coordinator", "admin"],
    summary: "one thing",
    params: { txid: txidSchema },
    query: z
      .object({
        limit: z
          .string()
          .regex(/^[0-9]+$/)
          .optional(),
      })
      .strict(),
    responses: { 200: { description: "the thing", schema: thingSchema } },
  },
  health: {
    method: "GET",
    path: "/healthz",
    callers: ["public"],
    summary: "up",
    responses: { 200: { description: "up", schema: z.object({ status: z.literal("ok") }) } },
  },
} as const satisfies Record<string, RouteSpec>;

function thingsApp(): Express {
  const app = createApp();
  mountRoute(app, anyone, ROUTES.make, (req, res) => {
    const body = ROUTES.make.body.parse(req.body);
    if (body.id === "taken") res.status(409).json({ error: { code: "exists", message: "taken" } });
    else res.status(201).json({ id: body.id, size: String(body.size) }); // a string: off-schema
  });
  mountRoute(app, anyone, ROUTES.get, (req, res) => {
    res.json({ id: req.params.txid, size: 1 });
  });
  mountRoute(app, anyone, ROUTES.health, (_req, res) => {
    res.json({ status: "ok" });
  });
  return app;
}

describe("OpenAPI documents (shared/openapi.ts)", () => {
  it("say each route's parameters, body, answers and security, from its spec", () => {
    const doc = buildOpenApi(thingsApp(), { title: "things" }) as unknown as OpenApiDoc;
    expect(doc.openapi).to.equal("3.1.0");
    expect(documentProblems(doc)).to.deep.equal([]);
    const get = findOperation(doc, "GET", "/v1/things/0190a6d2-6b1e-7c3a-9f00-2c5e1a7b8d90");
    expect(get?.template).to.equal("/v1/things/{txid}");
    expect(get?.op.security).to.deep.equal([{ bearer: [] }, { signature: [] }]);
    expect(get?.op.parameters).to.deep.include({
      name: "limit",
      in: "query",
      required: false,
      schema: { type: "string", pattern: "^[0-9]+$" },
    });
    expect(Object.keys(get?.op.responses as object)).to.have.members([
      "200",
      "400",
      "401",
      "403",
      "default",
    ]);
    expect(findOperation(doc, "GET", "/healthz")?.op.security).to.deep.equal([]);
    const make = findOperation(doc, "POST", "/v1/things")?.op as { requestBody: object };
    expect(make.requestBody).to.deep.nested.include({
      "content.application/json.schema.additionalProperties": false,
    });
  });

  it("list a route mounted without a spec, and a POST without a body schema, and the check names both", () => {
    const app = thingsApp();
    app.get("/v1/sneaky", (_req, res) => {
      res.json({});
    });
    mountRoute(
      app,
      anyone,
      { method: "POST", path: "/v1/bare", callers: ["admin"], summary: "no schemas yet" },
      (_req, res) => {
        res.json({});
      },
    );
    const doc = buildOpenApi(app, { title: "things" }) as unknown as OpenApiDoc;
    expect(documentProblems(doc)).to.deep.equal([
      "POST /v1/bare: takes a body but names no body schema (RouteSpec.body)",
      "POST /v1/bare: documents no success answer (RouteSpec.responses)",
      "GET /v1/sneaky: mounted without a RouteSpec (use mountRoute with a spec, shared/routes.ts)",
    ]);
  });

  describe("served", () => {
    let server: Server;
    let url: string;
    before(async () => {
      const app = thingsApp();
      mountOpenApi(app, anyone, { title: "things" });
      // Mounted after the document's route: built per request, the document has it.
      mountRoute(
        app,
        anyone,
        { ...ROUTES.health, path: "/v1/late", summary: "mounted late" },
        (_req, res) => {
          res.json({ status: "ok" });
        },
      );
      finishApp(app, { error: () => undefined } as never);
      server = await listen(app, "127.0.0.1", 0);
      url = `http://127.0.0.1:${String((server.address() as AddressInfo).port)}`;
    });
    after(() => {
      server.close();
    });

    it("at /openapi.json, with routes mounted after it", async () => {
      const doc = (await (await fetch(`${url}/openapi.json`)).json()) as OpenApiDoc;
      expect(Object.keys(doc.paths)).to.include.members(["/openapi.json", "/v1/late"]);
      expect(documentProblems(doc)).to.deep.equal([]);
    });

    it("hold recorded calls and their answers to it, naming each mismatch", async () => {
      const call = (
        method: string,
        path: string,
        data: unknown,
        status: number,
        body: unknown,
      ) => ({
        method,
        url: `${url}${path}`,
        headers: [],
        data: data === undefined ? undefined : JSON.stringify(data),
        status,
        body: JSON.stringify(body),
      });
      const problems = await undocumentedCalls([
        call("POST", "/v1/things", { id: "a", size: 2 }, 201, { id: "a", size: 2 }),
        call("POST", "/v1/things", { id: "taken", size: 2 }, 409, {
          error: { code: "x", message: "m" },
        }),
        call("GET", "/healthz?limit=5", undefined, 200, { status: "ok" }),
        call("POST", "/v1/things", { id: "b", size: 0, extra: 1 }, 201, { id: "b", size: "0" }),
        call("DELETE", "/v1/things", undefined, 404, {}),
      ]);
      expect(problems).to.have.length(4);
      expect(problems[0]).to.match(/^GET \/healthz\?limit=5 .*: query limit: not a documented/);
      expect(problems[1]).to.match(/^POST \/v1\/things .*: request body: .*(>= 1|additional)/);
      expect(problems[2]).to.match(/^POST \/v1\/things .*: answer 201: \/size must be integer/);
      expect(problems[3]).to.match(/^DELETE \/v1\/things .*: no such operation/);
    });
  });
});

/**
 * Every curl command in README.md, as written (method, path, and its body when it is literal
 * JSON). The runnable examples are also run and held to the services' documents
 * (readme-examples.test.ts); this covers the others too, without a cluster.
 */
function readmeCurlCalls(): { command: string; method: string; path: string; data?: string }[] {
  const readme = readFileSync(join(process.cwd(), "README.md"), "utf8");
  const calls = [];
  for (const start of [...readme.matchAll(/\bcurl\s/g)].map((m) => m.index)) {
    const command = shellCommandAt(readme, start);
    const url = /"?(?:\$\{?\w+\}?|\$\([^)]*\)|https?:\/\/[^/\s"]+)(\/[^"\s?']*)/.exec(command);
    if (!url?.[1]) continue; // prose that mentions curl
    const data = /(?:-d|--data)\s+'([^']*)'/.exec(command)?.[1];
    const method = /-X\s+([A-Z]+)/.exec(command)?.[1] ?? (data === undefined ? "GET" : "POST");
    calls.push({ command, method, path: url[1], ...(data === undefined ? {} : { data }) });
  }
  return calls;
}

/** The shell command starting at `start`: up to a newline outside quotes and not escaped. */
function shellCommandAt(text: string, start: number): string {
  let quote: string | undefined;
  for (let i = start; i < text.length; i++) {
    const c = text[i];
    if (quote) {
      if (c === quote) quote = undefined;
    } else if (c === "'" || c === '"') quote = c;
    else if (c === "\n" && text[i - 1] !== "\\") return text.slice(start, i);
    else if (c === "`") return text.slice(start, i); // inline code in prose
  }
  return text.slice(start);
}

describe("the README's curl commands", () => {
  it("each names a route some service mounts, with a body its schema takes", () => {
    const routes = [
      ...SERVICES.flatMap((s) => s.routes),
      ...Object.values(OPENAPI_ROUTES),
    ] as RouteSpec[];
    const calls = readmeCurlCalls();
    expect(calls.length).to.be.greaterThan(15);
    const problems = calls.flatMap((call) => {
      const route = routes.find(
        (r) =>
          r.method === call.method &&
          new RegExp(`^${r.path.replace(/:[a-z0-9-]+/g, "[^/]+")}$`).test(call.path),
      );
      if (!route) return [`${call.method} ${call.path}: no service mounts it`];
      if (call.data === undefined) return [];
      if (!route.body)
        return [`${call.method} ${call.path}: sends a body the route names no schema for`];
      const parsed = route.body.safeParse(JSON.parse(call.data));
      return parsed.success ? [] : [`${call.method} ${call.path}: ${parsed.error.message}`];
    });
    expect(problems).to.deep.equal([]);
  });
});
