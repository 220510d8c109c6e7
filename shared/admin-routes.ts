/**
 * Admin endpoints (failpoints, and how far recovery has got). They exist only when
 * CONCORD_ADMIN_ENDPOINTS=true, and every call needs `Authorization: Bearer <CONCORD_ADMIN_SECRET>`
 * of this service: a failpoint can crash the process.
 */
import type { Express } from "express";
import { z } from "zod";
import type { Authenticator } from "./auth.js";
import { ValidationError } from "./errors.js";
import { failpointSpecSchema, type Failpoints } from "./failpoints.js";
import { parseWith } from "./http-server.js";
import { mountRoute, type RouteSpec } from "./routes.js";

const onlyWhen = "CONCORD_ADMIN_ENDPOINTS=true";

const armedSchema = z.object({ name: z.string(), spec: failpointSpecSchema });
const failpointListSchema = z.object({
  failpoints: z.array(
    z.object({
      name: z.string(),
      spec: failpointSpecSchema.nullable(),
      remaining: z.number().int().nullable(),
      fired: z.number().int(),
      finished: z.number().int(),
    }),
  ),
});

export const ADMIN_ROUTES = {
  listFailpoints: {
    method: "GET",
    path: "/v1/admin/failpoints",
    callers: ["admin"],
    summary: "the failpoints and how each is armed",
    onlyWhen,
    responses: {
      200: { description: "every failpoint of this service", schema: failpointListSchema },
    },
  },
  armFailpoint: {
    method: "PUT",
    path: "/v1/admin/failpoints/:name",
    callers: ["admin"],
    summary: "arms a failpoint",
    onlyWhen,
    body: failpointSpecSchema,
    responses: { 200: { description: "armed", schema: armedSchema } },
  },
  disarmFailpoint: {
    method: "DELETE",
    path: "/v1/admin/failpoints/:name",
    callers: ["admin"],
    summary: "disarms a failpoint",
    onlyWhen,
    responses: {
      200: {
        description: "disarmed",
        schema: z.object({ name: z.string(), spec: z.null() }),
      },
    },
  },
} as const satisfies Record<string, RouteSpec>;

/**
 * What the fault tests observe instead of sleeping: recovery passes finished since start-up, so
 * a test can wait for "several passes went by" (and nothing was decided) rather than for a time.
 * Read-only; same callers and condition as the failpoint routes.
 */
export const ADMIN_RECOVERY_ROUTES = {
  recoveryPasses: {
    method: "GET",
    path: "/v1/admin/recovery",
    callers: ["admin"],
    summary: "how many recovery passes have finished since start-up",
    onlyWhen,
    responses: {
      200: { description: "passes so far", schema: z.object({ passes: z.number().int() }) },
    },
  },
} as const satisfies Record<string, RouteSpec>;

/**
 * `recoveryPasses` is read at each request, not at mounting: a participant builds its recovery
 * only once it listens.
 */
export function mountAdminRoutes(
  app: Express,
  auth: Authenticator,
  failpoints: Failpoints,
  adminSecret: string | undefined,
  recoveryPasses: () => number,
): void {
  if (!adminSecret) throw new Error("CONCORD_ADMIN_ENDPOINTS=true needs CONCORD_ADMIN_SECRET");

  mountRoute(app, auth, ADMIN_ROUTES.listFailpoints, (_req, res) => {
    res.json({ failpoints: failpoints.list() });
  });

  mountRoute(app, auth, ADMIN_ROUTES.armFailpoint, (req, res) => {
    const spec = parseWith(ADMIN_ROUTES.armFailpoint.body, req.body, "body");
    try {
      failpoints.set(String(req.params.name), spec);
    } catch (err) {
      throw new ValidationError((err as Error).message, "params.name");
    }
    res.json({ name: req.params.name, spec });
  });

  mountRoute(app, auth, ADMIN_ROUTES.disarmFailpoint, (req, res) => {
    try {
      failpoints.set(String(req.params.name), undefined);
    } catch (err) {
      throw new ValidationError((err as Error).message, "params.name");
    }
    res.json({ name: req.params.name, spec: null });
  });

  mountRoute(app, auth, ADMIN_RECOVERY_ROUTES.recoveryPasses, (_req, res) => {
    res.json({ passes: recoveryPasses() });
  });
}
