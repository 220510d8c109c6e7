/** `GET /metrics`: the service's Prometheus metrics, for operators (their bearer secret). */
import type { Express } from "express";
import type { Registry } from "prom-client";
import type { Authenticator } from "./auth.js";
import { mountRoute, type RouteSpec } from "./routes.js";

export const METRICS_ROUTES = {
  metrics: {
    method: "GET",
    path: "/metrics",
    callers: ["operator"],
    summary: "Prometheus metrics of this service (text exposition format)",
    responses: {
      200: {
        description: "every metric of this service, in Prometheus's text exposition format",
        contentType: "text/plain; version=0.0.4",
      },
    },
  },
} as const satisfies Record<string, RouteSpec>;

export function mountMetricsRoute(app: Express, auth: Authenticator, registry: Registry): void {
  mountRoute(app, auth, METRICS_ROUTES.metrics, async (_req, res) => {
    const text = await registry.metrics();
    res.setHeader("content-type", registry.contentType);
    res.send(text);
  });
}
