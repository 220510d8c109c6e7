import { readFileSync } from "node:fs";
import { join } from "node:path";

/**
 * Loads the durable log's Lua scripts (shared/lua) on bullmq's model:
 *
 * - a script's file name carries its number of keys, `<name>-<numberOfKeys>.lua`
 *   (`begin-4.lua`), so the count is written once, next to the header that lists the KEYS;
 * - a line `--- @include "<include>"` is replaced by the text of `includes/<include>.lua`, so
 *   code several scripts need (the Redis clock in milliseconds) is written once. Includes may
 *   include others; each is expanded once per script, where it first appears, so an include
 *   reached twice does not define its functions twice.
 *
 * Redis only ever sees the expanded text. Expansion depends on nothing but the files, so a
 * script keeps its SHA across processes and restarts.
 */

/** A script file, or one of its includes, that cannot be loaded as written. */
export class LuaScriptError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "LuaScriptError";
  }
}

export interface LuaScript {
  file: string;
  numberOfKeys: number;
  /** The script with every include expanded. */
  lua: string;
}

const SCRIPT_FILE = /^[a-z][a-z0-9-]*-(0|[1-9][0-9]*)\.lua$/;
// Any comment line naming @include is meant as a directive: one that does not match the exact
// form is refused rather than left as a comment that silently includes nothing.
const DIRECTIVE_LIKE = /^\s*--.*@include/;
const DIRECTIVE = /^---[ \t]+@include[ \t]+"([a-z][a-z0-9-]*)"[ \t]*$/;

/** The number of keys a script takes, from its file name (`end-4.lua` takes 4). */
export function keyCountOf(file: string): number {
  const match = SCRIPT_FILE.exec(file);
  if (!match?.[1])
    throw new LuaScriptError(
      `Lua script ${JSON.stringify(file)} must be named <name>-<numberOfKeys>.lua`,
    );
  return Number(match[1]);
}

/**
 * Expands the includes of `source` (the text of script `file`); `readInclude` returns an
 * include's text, or undefined when there is no such include.
 */
export function expandIncludes(
  file: string,
  source: string,
  readInclude: (name: string) => string | undefined,
): string {
  const expanded = new Set<string>();

  const expand = (text: string, chain: string[]): string =>
    text
      .split("\n")
      .map((line) => {
        if (!DIRECTIVE_LIKE.test(line)) return line;
        const name = DIRECTIVE.exec(line)?.[1];
        const where = chain.join(" -> ");
        if (!name)
          throw new LuaScriptError(
            `${where}: malformed include ${JSON.stringify(line)}; write --- @include "<name>"`,
          );
        if (chain.includes(name)) throw new LuaScriptError(`${where} -> ${name}: include cycle`);
        if (expanded.has(name)) return undefined;
        const body = readInclude(name);
        if (body === undefined)
          throw new LuaScriptError(`${where}: unknown include ${JSON.stringify(name)}`);
        const out = expand(body.replace(/\n$/, ""), [...chain, name]);
        expanded.add(name);
        return out;
      })
      .filter((line) => line !== undefined)
      .join("\n");

  return expand(source, [file]);
}

/** Reads `dir/file` and its includes (`dir/includes/<name>.lua`). */
export function loadLuaScript(dir: string, file: string): LuaScript {
  const numberOfKeys = keyCountOf(file);
  const source = readFileSync(join(dir, file), "utf8");
  const lua = expandIncludes(file, source, (name) =>
    readIfExists(join(dir, "includes", `${name}.lua`)),
  );
  return { file, numberOfKeys, lua };
}

function readIfExists(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
}
