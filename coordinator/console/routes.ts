/**
 * The web console's routes (coordinator/console/mount.ts). The page and its assets are public at
 * the route level because a browser's navigation carries no bearer header: `GET /console` checks
 * the operator secret or the session cookie itself and answers 401 with the login page without
 * either; the login checks the secret itself, in constant time. The data the console shows comes
 * from the operator routes, which take the session cookie only with the Concord-Console header
 * (shared/auth.ts).
 */
import { z } from "zod";
import type { RouteSpec } from "../../shared/routes.js";
import { wireErrorSchema } from "../../shared/wire-errors.js";

const html = (description: string) => ({ description, contentType: "text/html" });

/** The login's body: the operator secret, as typed into the login page. */
export const loginSchema = z.object({ secret: z.string().min(1).max(1024) }).strict();

export const CONSOLE_ROUTES = {
  page: {
    method: "GET",
    path: "/console",
    callers: ["public"],
    summary:
      "the web console for operators: with the operator secret (bearer) or a console session cookie; otherwise 401 and a login page",
    responses: {
      200: html("the console's page (its data comes from the operator routes)"),
      401: html("the login page: no operator secret and no session"),
    },
  },
  asset: {
    method: "GET",
    path: "/console/assets/:file",
    callers: ["public"],
    summary: "the console's scripts and stylesheet (no data)",
    params: { file: z.string().regex(/^[a-z0-9-]+\.(js|css|js\.map)$/) },
    responses: {
      200: { description: "the asset (JavaScript or CSS)", contentType: "application/javascript" },
      404: { description: "no such asset", schema: wireErrorSchema },
    },
  },
  login: {
    method: "POST",
    path: "/console/session",
    callers: ["public"],
    summary:
      'console login: `{"secret": <operator secret>}` sets an HttpOnly session cookie (8 h, ended by rotating the secret); a wrong secret is 401 and sets nothing',
    body: loginSchema,
    responses: {
      200: {
        description: "a session is open (Set-Cookie)",
        schema: z.object({ session: z.literal("open") }),
      },
      401: { description: "not the operator secret; nothing set", schema: wireErrorSchema },
    },
  },
  logout: {
    method: "DELETE",
    path: "/console/session",
    callers: ["public"],
    summary: "console logout: clears the session cookie",
    responses: {
      200: {
        description: "the cookie is cleared",
        schema: z.object({ session: z.literal("closed") }),
      },
    },
  },
} as const satisfies Record<string, RouteSpec>;
