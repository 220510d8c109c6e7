/**
 * What the framework serves about the application itself: its descriptor (the operations' JSON
 * Schema and rules, which the coordinator checks requests against) and its invariant checks.
 */
import type { Express, NextFunction, Request, Response } from "express";
import type { Pool } from "pg";
import { zodToJsonSchema } from "zod-to-json-schema";
import type { Authenticator } from "../../shared/auth.js";
import type { Logger } from "../../shared/logger.js";
import {
  describeParticipant,
  DESCRIPTOR_HASH_HEADER,
  type ParticipantDescriptor,
} from "../../shared/participant-descriptor.js";
import type { IsolationPolicy } from "../../shared/isolation.js";
import { mountRoute } from "../../shared/routes.js";
import type { OpenApiOptions } from "../../shared/openapi.js";
import { PARTICIPANT_ROUTES } from "./routes.js";
import type { Application } from "./application.js";
import { runInvariants } from "./invariant-checks.js";

/** The application's descriptor: computed once, since an application does not change while it runs. */
export function descriptorOf<Ops>(
  name: string,
  application: Application<Ops>,
  isolation?: IsolationPolicy,
): ParticipantDescriptor {
  const schema = zodToJsonSchema(application.operations, {
    target: "jsonSchema2019-09",
    $refStrategy: "none",
    errorMessages: true,
  }) as Record<string, unknown>;
  // The generator names draft 2019-09; the keywords it writes mean the same in 2020-12.
  schema.$schema = "https://json-schema.org/draft/2020-12/schema";
  return describeParticipant({
    participant: name,
    application: application.name,
    operationsSchema: schema,
    rules: application.rules,
    isolation,
  });
}

/** What the participant's OpenAPI document says of it: its operations are its application's. */
export function openApiOptions<Ops>(name: string, application: Application<Ops>): OpenApiOptions {
  return {
    title: `Concord participant ${name} (${application.name})`,
    operations: descriptorOf(name, application).operationsSchema,
  };
}

export function mountDescriptorRoutes<Ops>(
  app: Express,
  auth: Authenticator,
  ctx: {
    name: string;
    application: Application<Ops>;
    pool: Pool;
    logger: Logger;
    isolation: IsolationPolicy;
  },
): void {
  const descriptor = descriptorOf(ctx.name, ctx.application, ctx.isolation);
  // Every answer names the descriptor, so the coordinator notices a new one at the next message.
  app.use((_req: Request, res: Response, next: NextFunction) => {
    res.setHeader(DESCRIPTOR_HASH_HEADER, descriptor.hash);
    next();
  });
  mountRoute(app, auth, PARTICIPANT_ROUTES.descriptor, (_req, res) => {
    res.json(descriptor);
  });
  mountRoute(app, auth, PARTICIPANT_ROUTES.invariants, async (_req, res) => {
    const checks = await runInvariants(ctx.pool, ctx.application);
    res.json({
      participant: ctx.name,
      application: ctx.application.name,
      holds: checks.every((c) => c.holds),
      checks,
    });
  });
}
