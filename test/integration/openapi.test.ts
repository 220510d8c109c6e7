import { expect } from "chai";
import type { ClusterFile } from "../../scripts/cluster/cluster-file.js";
import { SERVICES } from "../../scripts/route-table.js";
import { openApiPath } from "../../shared/openapi.js";
import type { RouteSpec } from "../../shared/routes.js";
import { sharedCluster } from "../support/cluster-fixture.js";
import {
  documentProblems,
  DocValidator,
  operationsOf,
  requestSchemaOf,
  type OpenApiDoc,
} from "../support/openapi-check.js";
import { fetchOpenApi } from "../support/readme-openapi.js";

interface Service {
  name: string;
  url: string;
  /** The routes it mounts, from the route table's lists (scripts/route-table.ts). */
  routes: readonly RouteSpec[];
  doc: OpenApiDoc;
}

const routesOf = (...services: string[]) =>
  SERVICES.filter((s) => services.includes(s.service)).flatMap((s) => s.routes);

/** Every service of the cluster serves its OpenAPI document, and it says what the service does. */
describe("each service's OpenAPI document (/openapi.json)", function () {
  let cluster: ClusterFile;
  const services: Service[] = [];

  before(async function () {
    this.timeout(120_000);
    cluster = await sharedCluster();
    const all = [
      { name: "coordinator", url: cluster.coordinator.url, routes: routesOf("coordinator") },
      ...cluster.participants.map((p) => ({
        name: p.name,
        url: p.participantUrl,
        routes: routesOf("participant", `${p.application} participant`),
      })),
    ];
    for (const s of all) services.push({ ...s, doc: await fetchOpenApi(s.url) });
  });

  it("is OpenAPI 3.1 whose every schema compiles, with a RouteSpec for every route express routes to, a body schema for every POST and PUT, and a success answer for each", () => {
    for (const s of services) {
      expect(s.doc.info.title, s.name).to.include(
        s.name === "coordinator" ? "coordinator" : s.name,
      );
      expect(documentProblems(s.doc), s.name).to.deep.equal([]);
    }
  });

  it("lists exactly the routes the service mounts: those of the route table, the admin ones only when enabled", () => {
    for (const s of services) {
      const documented = operationsOf(s.doc).map((o) => `${o.method} ${o.template}`);
      const key = (r: RouteSpec) => `${r.method} ${openApiPath(r.path)}`;
      const always = s.routes.filter((r) => r.onlyWhen === undefined).map(key);
      expect(documented, s.name).to.include.members(always);
      expect(
        s.routes.map(key),
        `${s.name}: documented but not in the route table`,
      ).to.include.members(documented);
    }
  });

  it("every operation reaches its route (a 404 names a missing resource, never a missing route)", async () => {
    for (const s of services) {
      for (const { method, template } of operationsOf(s.doc)) {
        const path = template
          .replace("{txid}", "0190a6d2-6b1e-7c3a-9f00-2c5e1a7b8d90")
          .replace(/\{[^}]+\}/g, "no-such-thing");
        const res = await fetch(`${s.url}${path}`, { method });
        // Not every answer is JSON (the console's page is HTML): only a JSON 404 can say "no route".
        const json = (res.headers.get("content-type") ?? "").includes("json");
        const body = (json ? await res.json() : {}) as { error?: { message?: string } };
        expect(
          res.status === 404 && /^no route for/.test(body.error?.message ?? ""),
          `${s.name}: ${method} ${path} found no route`,
        ).to.equal(false);
      }
    }
  });

  it("a participant's document takes its application's operations, as its descriptor publishes them", async () => {
    for (const p of cluster.participants) {
      const s = services.find((x) => x.name === p.name);
      if (!s) throw new Error(`no document for ${p.name}`);
      const res = await fetch(`${p.participantUrl}/v1/descriptor`, {
        headers: { authorization: `Bearer ${cluster.secrets.adminSecrets[p.name] ?? ""}` },
      });
      const { operationsSchema } = (await res.json()) as {
        operationsSchema: Record<string, unknown>;
      };
      // The same schema, without its dialect: the document's is 2020-12 throughout.
      const published = { ...operationsSchema };
      delete published.$schema;
      expect(s.doc.components.schemas.Operations, p.name).to.deep.equal(published);

      const prepare = s.doc.paths["/v1/2pc/{txid}/prepare"]?.post;
      const schema = prepare ? requestSchemaOf(prepare) : undefined;
      if (!schema) throw new Error(`${p.name} documents no PREPARE body`);
      const validator = new DocValidator(s.doc);
      const good =
        p.application === "bank"
          ? { op: "debit", account: "alice", amount: "100" }
          : { op: "reserve", item: "lamp", quantity: 1 };
      expect(validator.problem(schema, { operations: [good] }), p.name).to.equal(undefined);
      expect(validator.problem(schema, { operations: [{ op: "mint" }] }), p.name).to.be.a("string");
    }
  });
});
