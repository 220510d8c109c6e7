/**
 * zod schemas as the JSON Schema an OpenAPI 3.1 document holds (draft 2020-12). The schemas are
 * the ones the services parse requests with (shared/routes.ts), so the document cannot drift
 * from what is checked.
 */
import type { z } from "zod";
import { ignoreOverride, zodToJsonSchema } from "zod-to-json-schema";
import { operationsSchema } from "./messages.js";
import { wireErrorSchema } from "./wire-errors.js";

export type JsonSchema = Record<string, unknown>;

/**
 * Schemas written once in `components.schemas` and referred to wherever they occur: the error
 * body every route may answer, and the operations of a participant (the coordinator checks only
 * their envelope; a participant's document puts its application's published schema there).
 */
const COMPONENTS = [
  { name: "ErrorBody", zod: wireErrorSchema },
  { name: "Operations", zod: operationsSchema },
] as const;

export const ERROR_BODY_REF = { $ref: "#/components/schemas/ErrorBody" } as const;

/**
 * `io` picks the side of a transform: a request is documented as sent (a query's "50", before it
 * becomes 50), an answer as produced.
 */
export function jsonSchemaOf(schema: z.ZodTypeAny, io: "input" | "output"): JsonSchema {
  const out = zodToJsonSchema(schema as z.ZodType, {
    target: "jsonSchema2019-09",
    $refStrategy: "none",
    // A strict object refuses unknown fields (additionalProperties: false); a plain one ignores
    // them, which JSON Schema says as allowing them.
    removeAdditionalStrategy: "strict",
    // A refinement's schema is its inner one (JSON Schema cannot say the rest); no answer is a
    // transform, so "input" is right for both sides.
    effectStrategy: "input",
    pipeStrategy: io,
    override: (def) => {
      const component = COMPONENTS.find((c) => c.zod._def === def);
      return component ? { $ref: `#/components/schemas/${component.name}` } : ignoreOverride;
    },
  }) as JsonSchema;
  // The generator names draft 2019-09; the keywords it writes mean the same in 2020-12, which is
  // the document's dialect.
  delete out.$schema;
  return out;
}

/** The components' own schemas; `operations` replaces the generic operations envelope. */
export function componentSchemas(operations: JsonSchema | undefined): Record<string, JsonSchema> {
  const schemas: Record<string, JsonSchema> = {};
  for (const c of COMPONENTS) {
    // Rendered without the override, which would make each one a reference to itself.
    const own = zodToJsonSchema(c.zod, {
      target: "jsonSchema2019-09",
      $refStrategy: "none",
      removeAdditionalStrategy: "strict",
    }) as JsonSchema;
    delete own.$schema;
    schemas[c.name] = own;
  }
  schemas.ErrorBody = {
    ...schemas.ErrorBody,
    description:
      "Every error: `error.code` is one of shared/wire-errors.ts (an application may add its own), `error.message` says what to fix, `error.field` names the offending field when there is one.",
  };
  schemas.Operations = operations
    ? withoutDialect(operations)
    : {
        ...schemas.Operations,
        description:
          "A participant's operations: each participant checks them with the schema it publishes (GET /v1/descriptor, and in its own /openapi.json); the coordinator checks them with it too before anything is logged.",
      };
  return schemas;
}

function withoutDialect(schema: JsonSchema): JsonSchema {
  const rest = { ...schema };
  delete rest.$schema;
  return rest;
}
