/**
 * Serves the web console: its page (index.html, or login.html with a 401), its compiled scripts
 * (coordinator/console/app/*.ts, built by tsc next to this file) and its stylesheet, under a
 * Content-Security-Policy that allows scripts from this origin only — no inline script, so a
 * value that slipped into the page as markup still could not run.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import type { Express, Request, Response } from "express";
import type { Authenticator } from "../../shared/auth.js";
import {
  clearedSessionCookie,
  CONSOLE_COOKIE,
  cookieValue,
  mintConsoleSession,
  sessionCookie,
  validConsoleSession,
} from "../../shared/console-session.js";
import { NotFoundError, UnauthorizedError } from "../../shared/errors.js";
import { parseWith } from "../../shared/http-server.js";
import { mountRoute } from "../../shared/routes.js";
import { CONSOLE_ROUTES as R } from "./routes.js";

const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join("; ");

const TYPES: Record<string, string> = {
  js: "text/javascript; charset=utf-8",
  css: "text/css; charset=utf-8",
  html: "text/html; charset=utf-8",
};

/** Every file the console serves, read once: the compiled scripts and the static folder. */
function loadAssets(): Map<string, Buffer> {
  const assets = new Map<string, Buffer>();
  for (const dir of ["app", "static"]) {
    const url = new URL(`./${dir}/`, import.meta.url);
    for (const name of readdirSync(url))
      if (/^[a-z0-9-]+\.(js|css|html)$/.test(name))
        assets.set(name, readFileSync(new URL(name, url)));
  }
  for (const needed of ["index.html", "login.html", "console.css", "main.js", "login.js"])
    if (!assets.has(needed))
      throw new Error(`the console's ${needed} is missing from the build (run npm run build)`);
  return assets;
}

function send(res: Response, status: number, name: string, body: Buffer): void {
  res.status(status);
  res.setHeader("content-type", TYPES[name.split(".").pop() ?? ""] ?? "application/octet-stream");
  res.setHeader("content-security-policy", CSP);
  res.setHeader("x-content-type-options", "nosniff");
  res.setHeader("referrer-policy", "no-referrer");
  res.setHeader("cache-control", "no-store");
  res.end(body);
}

const digest = (s: string) => createHash("sha256").update(s).digest();

/** True when the request may see the console: the operator secret as bearer, or a session. */
function mayOpen(req: Request, auth: Authenticator, operatorSecret: string | undefined): boolean {
  if (req.header("authorization") !== undefined) {
    try {
      return auth.authenticate(req, ["operator"]).kind === "operator";
    } catch {
      return false;
    }
  }
  return validConsoleSession(cookieValue(req.header("cookie"), CONSOLE_COOKIE), operatorSecret);
}

export function mountConsole(
  app: Express,
  auth: Authenticator,
  operatorSecret: string | undefined,
): void {
  const assets = loadAssets();
  const asset = (name: string) => assets.get(name) ?? Buffer.alloc(0);

  mountRoute(app, auth, R.page, (req, res) => {
    if (mayOpen(req, auth, operatorSecret)) send(res, 200, "index.html", asset("index.html"));
    else send(res, 401, "login.html", asset("login.html"));
  });

  mountRoute(app, auth, R.asset, (req, res) => {
    const file: unknown = req.params.file;
    const name = typeof file === "string" ? file : "";
    const body = name.endsWith(".html") ? undefined : assets.get(name);
    if (!body) throw new NotFoundError(`the console has no asset ${JSON.stringify(name)}`);
    send(res, 200, name, body);
  });

  mountRoute(app, auth, R.login, (req, res) => {
    const { secret } = parseWith(R.login.body, req.body, "body");
    // Compared as digests: the time taken does not depend on where the two first differ.
    const ok =
      operatorSecret !== undefined &&
      operatorSecret !== "" &&
      timingSafeEqual(digest(secret), digest(operatorSecret));
    if (!ok)
      throw new UnauthorizedError(
        "that is not this coordinator's operator secret (CONCORD_OPERATOR_SECRET); no session was opened",
      );
    res.setHeader("set-cookie", sessionCookie(mintConsoleSession(operatorSecret)));
    res.setHeader("cache-control", "no-store");
    res.json({ session: "open" });
  });

  mountRoute(app, auth, R.logout, (_req, res) => {
    res.setHeader("set-cookie", clearedSessionCookie());
    res.json({ session: "closed" });
  });
}
