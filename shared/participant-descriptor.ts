/**
 * What a participant publishes about its application (GET /v1/2pc/operations): the JSON Schema
 * of its operation list, generated from the application's zod schema, and the rules of its
 * operation kinds (operation-rules.ts). The coordinator checks every request's operations for
 * that participant against them before anything is logged. `hash` names this content: every
 * 2PC answer carries it in a header, so the coordinator notices a changed application and
 * fetches the descriptor again.
 */
import { createHash } from "node:crypto";
import { z } from "zod";
import { isolationPolicySchema, type IsolationPolicy } from "./isolation.js";
import { operationRulesSchema, type OperationRules } from "./operation-rules.js";

/** The header on every 2PC answer that names the participant's descriptor. */
export const DESCRIPTOR_HASH_HEADER = "concord-operations-hash";

export const participantDescriptorSchema = z
  .object({
    /** The wire protocol's version (docs/wire-protocol.md). */
    protocol: z.literal(1),
    participant: z.string(),
    application: z.string(),
    /** JSON Schema (draft 2020-12) of the `operations` array of a PREPARE. */
    operationsSchema: z.record(z.unknown()),
    rules: operationRulesSchema.optional(),
    /**
     * The isolation level the participant runs when a request names none, and the weakest it
     * accepts: the coordinator refuses a weaker one before it logs anything.
     */
    isolation: isolationPolicySchema.optional(),
    hash: z.string().regex(/^[0-9a-f]{64}$/),
  })
  .strict();
export type ParticipantDescriptor = z.infer<typeof participantDescriptorSchema>;

/** A stable text of a JSON value: object keys sorted, so equal content hashes equally. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

export function describeParticipant(input: {
  participant: string;
  application: string;
  operationsSchema: Record<string, unknown>;
  rules?: OperationRules | undefined;
  isolation?: IsolationPolicy | undefined;
}): ParticipantDescriptor {
  const content = {
    protocol: 1 as const,
    participant: input.participant,
    application: input.application,
    operationsSchema: input.operationsSchema,
    ...(input.rules ? { rules: input.rules } : {}),
    ...(input.isolation ? { isolation: input.isolation } : {}),
  };
  const hash = createHash("sha256").update(canonicalJson(content)).digest("hex");
  return { ...content, hash };
}
