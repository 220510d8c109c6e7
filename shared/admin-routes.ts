/**
 * Admin endpoints (failpoints). They exist only when CONCORD_ADMIN_ENDPOINTS=true, and every
 * call needs `Authorization: Bearer <CONCORD_ADMIN_SECRET>`: a failpoint can crash the process.
 */
import type { Express, Request } from "express";
import { requireBearer } from "./auth.js";
import { ValidationError } from "./errors.js";
import { failpointSpecSchema, type Failpoints } from "./failpoints.js";
import { parseWith } from "./http-server.js";

export function mountAdminRoutes(app: Express, failpoints: Failpoints, adminSecret: string): void {
  if (!adminSecret) throw new Error("CONCORD_ADMIN_ENDPOINTS=true needs CONCORD_ADMIN_SECRET");
  const guard = (req: Request) => requireBearer(req, adminSecret, "the admin API");

  app.get("/v1/admin/failpoints", (req, res) => {
    guard(req);
    res.json({ failpoints: failpoints.list() });
  });

  app.put("/v1/admin/failpoints/:name", (req, res) => {
    guard(req);
    const spec = parseWith(failpointSpecSchema, req.body, "body");
    try {
      failpoints.set(String(req.params.name), spec);
    } catch (err) {
      throw new ValidationError((err as Error).message, "params.name");
    }
    res.json({ name: req.params.name, spec });
  });

  app.delete("/v1/admin/failpoints/:name", (req, res) => {
    guard(req);
    try {
      failpoints.set(String(req.params.name), undefined);
    } catch (err) {
      throw new ValidationError((err as Error).message, "params.name");
    }
    res.json({ name: req.params.name, spec: null });
  });
}
