/**
 * The web console's routes (coordinator/console/mount.ts). The page and its assets are public at
 * the route level because a browser's navigation carries no bearer header: `GET /console` checks
 * the operator secret or the session cookie itself and answers 401 with the login page without
 * either; the login checks the secret itself, in constant time. The data the console shows comes
 * from the operator routes, which take the session cookie only with the Concord-Console header
 * (shared/auth.ts).
 */
import type { RouteSpec } from "../../shared/routes.js";

export const CONSOLE_ROUTES = {
  page: {
    method: "GET",
    path: "/console",
    callers: ["public"],
    summary:
      "the web console for operators: with the operator secret (bearer) or a console session cookie; otherwise 401 and a login page",
  },
  asset: {
    method: "GET",
    path: "/console/assets/:file",
    callers: ["public"],
    summary: "the console's scripts and stylesheet (no data)",
  },
  login: {
    method: "POST",
    path: "/console/session",
    callers: ["public"],
    summary:
      'console login: `{"secret": <operator secret>}` sets an HttpOnly session cookie (8 h, ended by rotating the secret); a wrong secret is 401 and sets nothing',
  },
  logout: {
    method: "DELETE",
    path: "/console/session",
    callers: ["public"],
    summary: "console logout: clears the session cookie",
  },
} as const satisfies Record<string, RouteSpec>;
