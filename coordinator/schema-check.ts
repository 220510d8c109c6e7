/**
 * Compiles a participant's published operations schema (JSON Schema 2020-12) and turns a failed
 * check into one message that names the field, as a client reads it:
 * `body.participants.1.operations.0.quantity: must be <= 1000000`.
 *
 * The schema comes from a participant, not from this code base, so only a plain subset of JSON
 * Schema is compiled: no references (nothing is fetched or resolved), no dynamic keywords, a
 * bounded size and depth, and short patterns.
 */
import type { ErrorObject, ValidateFunction } from "ajv";
import Ajv2020Module from "ajv/dist/2020.js";

/** The keywords a published schema may use: what zod-to-json-schema writes for plain schemas. */
const ALLOWED_KEYWORDS = new Set([
  "$schema",
  "type",
  "properties",
  "required",
  "additionalProperties",
  "items",
  "prefixItems",
  "anyOf",
  "oneOf",
  "allOf",
  "not",
  "const",
  "enum",
  "pattern",
  "format",
  "minLength",
  "maxLength",
  "minimum",
  "maximum",
  "exclusiveMinimum",
  "exclusiveMaximum",
  "multipleOf",
  "minItems",
  "maxItems",
  "minProperties",
  "maxProperties",
  "description",
  "title",
  "default",
  "errorMessage",
]);
/** Keywords whose value is a map from names to schemas (the names are not keywords). */
const SCHEMA_MAPS = new Set(["properties"]);
/** Keywords whose value is data, not a schema. */
const DATA_KEYWORDS = new Set(["const", "enum", "default", "errorMessage", "required"]);
const MAX_DEPTH = 32;
const MAX_NODES = 5000;
const MAX_PATTERN_LENGTH = 512;

/** Why a published schema was not compiled. */
export class UnusableSchemaError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UnusableSchemaError";
  }
}

function guard(schema: unknown, path: string, depth: number, budget: { nodes: number }): void {
  if (++budget.nodes > MAX_NODES) throw new UnusableSchemaError(`more than ${MAX_NODES} nodes`);
  if (depth > MAX_DEPTH) throw new UnusableSchemaError(`${path}: nested deeper than ${MAX_DEPTH}`);
  if (typeof schema === "boolean") return;
  if (typeof schema !== "object" || schema === null || Array.isArray(schema))
    throw new UnusableSchemaError(`${path}: a schema must be an object`);
  for (const [keyword, value] of Object.entries(schema as Record<string, unknown>)) {
    const at = `${path}/${keyword}`;
    if (!ALLOWED_KEYWORDS.has(keyword))
      throw new UnusableSchemaError(`${at}: keyword "${keyword}" is not accepted`);
    if (DATA_KEYWORDS.has(keyword) || typeof value !== "object" || value === null) {
      if (keyword === "pattern" && (typeof value !== "string" || value.length > MAX_PATTERN_LENGTH))
        throw new UnusableSchemaError(
          `${at}: a pattern of at most ${MAX_PATTERN_LENGTH} characters`,
        );
      continue;
    }
    if (SCHEMA_MAPS.has(keyword)) {
      for (const [name, sub] of Object.entries(value as Record<string, unknown>))
        guard(sub, `${at}/${name}`, depth + 1, budget);
    } else if (Array.isArray(value)) {
      value.forEach((sub, i) => {
        guard(sub, `${at}/${i}`, depth + 1, budget);
      });
    } else guard(value, at, depth + 1, budget);
  }
}

// ajv is CommonJS: under NodeNext its class is the module's default export's `default`.
const Ajv2020 = (Ajv2020Module as unknown as { default: typeof Ajv2020Module.default }).default;

/** Compiles a published schema after checking it uses only the accepted subset. */
export function compileOperationsSchema(schema: unknown): ValidateFunction {
  guard(schema, "#", 0, { nodes: 0 });
  const ajv = new Ajv2020({
    allErrors: true,
    verbose: true,
    strict: false,
    validateFormats: false,
  });
  try {
    return ajv.compile(schema as Record<string, unknown>);
  } catch (err) {
    throw new UnusableSchemaError((err as Error).message);
  }
}

/** `/0/amount` → `.0.amount` */
function dotted(instancePath: string): string {
  return instancePath
    .split("/")
    .slice(1)
    .map((p) => p.replace(/~1/g, "/").replace(/~0/g, "~"))
    .map((p) => `.${p}`)
    .join("");
}

/** The branch of an `anyOf` an error came from: `#/items/anyOf/2/...` → `#/items/anyOf/2`. */
function branchOf(schemaPath: string): string | undefined {
  return /^(.*\/(?:anyOf|oneOf)\/\d+)\//.exec(schemaPath)?.[1];
}

function messageOf(e: ErrorObject): string {
  const custom = (e.parentSchema as { errorMessage?: unknown } | undefined)?.errorMessage;
  const text =
    typeof custom === "string"
      ? custom
      : typeof custom === "object" && custom !== null
        ? (custom as Record<string, unknown>)[e.keyword]
        : undefined;
  if (typeof text === "string") return text;
  if (e.keyword === "additionalProperties")
    return `unrecognized field "${String((e.params as { additionalProperty?: unknown }).additionalProperty)}"`;
  if (e.keyword === "const" || e.keyword === "enum")
    return `${e.message ?? "invalid"}: ${JSON.stringify(e.params)}`;
  return e.message ?? "invalid";
}

/**
 * The one error worth telling: for a union (an operation of several kinds), the branches whose
 * discriminating constant did not match are dropped, so the client hears what is wrong with the
 * kind it asked for, not that it is not every other kind.
 */
export function describeFailure(
  errors: readonly ErrorObject[],
  where: string,
): {
  message: string;
  field: string;
} {
  const constMismatch = new Set(
    errors.filter((e) => e.keyword === "const").map((e) => branchOf(e.schemaPath)),
  );
  const relevant = errors.filter((e) => {
    if (e.keyword === "anyOf" || e.keyword === "oneOf") return false;
    const branch = branchOf(e.schemaPath);
    return branch === undefined || !constMismatch.has(branch);
  });
  const chosen =
    relevant.sort((a, b) => b.instancePath.length - a.instancePath.length)[0] ??
    errors.find((e) => e.keyword === "const") ??
    errors[0];
  if (!chosen) return { message: `${where}: invalid`, field: where };
  const field = `${where}${dotted(chosen.instancePath)}`;
  if (chosen.keyword === "const") {
    // No branch's constant matched: list the kinds there are.
    const allowed = errors
      .filter((e) => e.keyword === "const" && e.instancePath === chosen.instancePath)
      .map((e) => JSON.stringify((e.params as { allowedValue?: unknown }).allowedValue));
    return { message: `${field}: must be one of ${allowed.join(", ")}`, field };
  }
  return { message: `${field}: ${messageOf(chosen)}`, field };
}
