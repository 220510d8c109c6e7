/**
 * Where an application's zod schema says more than the JSON Schema published from it: a
 * refinement, a transform or a preprocess (ZodEffects) is dropped by the conversion, so the
 * coordinator lets through what only the participant then refuses, after the transaction was
 * logged. Found at start-up and logged, so the application can say it with patterns and bounds.
 */
import type { z } from "zod";

interface Def {
  typeName?: string;
  type?: z.ZodTypeAny;
  schema?: z.ZodTypeAny;
  innerType?: z.ZodTypeAny;
  options?: readonly z.ZodTypeAny[] | Map<unknown, z.ZodTypeAny>;
  shape?: () => Record<string, z.ZodTypeAny>;
  items?: readonly z.ZodTypeAny[];
  valueType?: z.ZodTypeAny;
}

/** The paths (`[]`, `[].amount`, ...) at which the schema refines or transforms. */
export function schemaLosses(schema: z.ZodTypeAny, path = ""): string[] {
  const def = schema._def as Def;
  const here = path === "" ? "(the list)" : path;
  switch (def.typeName) {
    case "ZodEffects":
      return [here, ...(def.schema ? schemaLosses(def.schema, path) : [])];
    case "ZodArray":
      return def.type ? schemaLosses(def.type, `${path}[]`) : [];
    case "ZodObject":
      return Object.entries(def.shape?.() ?? {}).flatMap(([key, sub]) =>
        schemaLosses(sub, `${path}.${key}`),
      );
    case "ZodUnion":
    case "ZodDiscriminatedUnion": {
      const options = def.options instanceof Map ? [...def.options.values()] : (def.options ?? []);
      return [...new Set(options.flatMap((o) => schemaLosses(o, path)))];
    }
    case "ZodTuple":
      return (def.items ?? []).flatMap((o, i) => schemaLosses(o, `${path}[${i}]`));
    case "ZodRecord":
      return def.valueType ? schemaLosses(def.valueType, `${path}.*`) : [];
    case "ZodOptional":
    case "ZodNullable":
    case "ZodDefault":
      return def.innerType ? schemaLosses(def.innerType, path) : [];
    default:
      return [];
  }
}
