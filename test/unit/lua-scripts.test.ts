/**
 * The durable log's scripts as shipped (shared/lua, copied beside the build): each one loads,
 * takes the number of keys its name says, gets the Redis clock from the one shared include,
 * and calls only commands the services' Redis users may run (shared/redis-acl.ts).
 */
import { expect } from "chai";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { loadLuaScript } from "../../shared/lua-scripts.js";
import { SERVICE_REDIS_COMMANDS } from "../../shared/redis-acl.js";

const LUA_DIR = join(dirname(fileURLToPath(import.meta.url)), "../../shared/lua");
const files = readdirSync(LUA_DIR).filter((f) => f.endsWith(".lua"));
const includes = readdirSync(join(LUA_DIR, "includes")).filter((f) => f.endsWith(".lua"));
const scripts = files.map((file) => loadLuaScript(LUA_DIR, file));

/** The header, between the opening `--[[` and its `]]`, and the code after it. */
function split(lua: string): { header: string; code: string } {
  const end = lua.indexOf("]]");
  return { header: lua.slice(0, end), code: lua.slice(end + 2) };
}

describe("the durable log's Lua scripts", () => {
  it("are found where the build puts them, with their includes", () => {
    expect(files).to.include.members(["begin-4.lua", "decide-presume-4.lua", "decide-voted-3.lua"]);
    expect(includes).to.include.members(["time-ms.lua", "record-decision.lua"]);
  });

  it("each take the keys their name counts: the header lists KEYS[1..n] and the code uses no other", () => {
    for (const { file, numberOfKeys, lua } of scripts) {
      const { header, code } = split(lua);
      const listed = [...header.matchAll(/^\s*KEYS\[(\d+)\]/gm)].map((m) => Number(m[1]));
      expect(listed, file).to.deep.equal(Array.from({ length: numberOfKeys }, (_, i) => i + 1));
      const used = new Set([...code.matchAll(/KEYS\[(\d+)\]/g)].map((m) => Number(m[1])));
      expect(
        [...used].sort((a, b) => a - b),
        file,
      ).to.deep.equal(listed);
    }
  });

  it("read the Redis clock only through the time-ms include", () => {
    for (const file of files) {
      expect(readFileSync(join(LUA_DIR, file), "utf8"), file).not.to.contain("'TIME'");
    }
    const clockReaders = scripts.filter(({ lua }) => lua.includes("redis.call('TIME')"));
    expect(clockReaders.map((s) => s.file)).to.deep.equal(
      scripts.filter(({ lua }) => lua.includes("timeMs()")).map((s) => s.file),
    );
    for (const { file, lua } of clockReaders)
      expect(lua.split("local function timeMs()").length - 1, file).to.equal(1);
  });

  it("keep no include directive once loaded", () => {
    for (const { file, lua } of scripts) expect(lua, file).not.to.match(/@include/);
  });

  it("call only commands the services' Redis ACL allows", () => {
    const allowed = new Set<string>(SERVICE_REDIS_COMMANDS);
    for (const { file, lua } of scripts) {
      for (const [, command] of lua.matchAll(/redis\.call\('([A-Za-z]+)'/g))
        expect(allowed, `${file} calls ${command}`).to.include((command as string).toLowerCase());
    }
  });
});
