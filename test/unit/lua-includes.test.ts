/**
 * The include mechanism of the durable log's Lua scripts (shared/lua-scripts.ts): a line
 * `--- @include "<name>"` becomes the text of includes/<name>.lua, deterministically, and a
 * script that names an unknown include, or whose includes form a cycle, is refused.
 */
import { expect } from "chai";
import { expandIncludes, LuaScriptError } from "../../shared/lua-scripts.js";

/** Includes served from a table instead of files: expansion needs no disk and no Redis. */
const from =
  (includes: Record<string, string>) =>
  (name: string): string | undefined =>
    includes[name];

function refusal(run: () => unknown): LuaScriptError {
  try {
    run();
  } catch (err) {
    expect(err).to.be.instanceOf(LuaScriptError);
    return err as LuaScriptError;
  }
  throw new Error("expected a LuaScriptError");
}

describe("Lua includes", () => {
  it("replace the directive line with the include's text, in place", () => {
    const lua = expandIncludes(
      "s-1.lua",
      'local a = 1\n--- @include "clock"\nreturn now()\n',
      from({ clock: "local function now() return 1 end\n" }),
    );
    expect(lua).to.equal("local a = 1\nlocal function now() return 1 end\nreturn now()\n");
  });

  it("expand includes of includes", () => {
    const lua = expandIncludes(
      "s-1.lua",
      '--- @include "outer"\nreturn 0',
      from({ outer: '--- @include "inner"\nlocal o = i', inner: "local i = 1" }),
    );
    expect(lua).to.equal("local i = 1\nlocal o = i\nreturn 0");
  });

  it("expand an include reached twice only once, where it first appears", () => {
    const lua = expandIncludes(
      "s-1.lua",
      '--- @include "a"\n--- @include "b"\n--- @include "a"\nreturn 0',
      from({
        a: '--- @include "clock"\nlocal a = 1',
        b: '--- @include "clock"\nlocal b = 2',
        clock: "local c = 0",
      }),
    );
    expect(lua).to.equal("local c = 0\nlocal a = 1\nlocal b = 2\nreturn 0");
  });

  it("give the same text for the same files, whatever was expanded before", () => {
    const includes = from({ a: '--- @include "b"\nlocal a = b', b: "local b = 1" });
    const source = '--- @include "b"\n--- @include "a"\nreturn a';
    const first = expandIncludes("s-1.lua", source, includes);
    expandIncludes("t-1.lua", '--- @include "a"', includes);
    expect(expandIncludes("s-1.lua", source, includes)).to.equal(first);
  });

  it("leave a script without directives unchanged", () => {
    const source = "-- a comment\nlocal x = 1 -- @ not a directive\nreturn x\n";
    expect(expandIncludes("s-1.lua", source, from({}))).to.equal(source);
  });

  it("refuse an unknown include, naming the script and the include", () => {
    const err = refusal(() =>
      expandIncludes("s-1.lua", '--- @include "nowhere"\nreturn 0', from({})),
    );
    expect(err.message).to.contain("s-1.lua").and.to.contain('unknown include "nowhere"');
  });

  it("refuse an unknown include inside an include, naming the chain that reached it", () => {
    const err = refusal(() =>
      expandIncludes("s-1.lua", '--- @include "a"', from({ a: '--- @include "gone"' })),
    );
    expect(err.message).to.contain('s-1.lua -> a: unknown include "gone"');
  });

  it("refuse an include cycle, naming it", () => {
    const err = refusal(() =>
      expandIncludes(
        "s-1.lua",
        '--- @include "a"',
        from({ a: '--- @include "b"', b: '--- @include "a"' }),
      ),
    );
    expect(err.message).to.equal("s-1.lua -> a -> b -> a: include cycle");
  });

  it("refuse an include that includes itself", () => {
    const err = refusal(() =>
      expandIncludes("s-1.lua", '--- @include "a"', from({ a: '--- @include "a"' })),
    );
    expect(err.message).to.equal("s-1.lua -> a -> a: include cycle");
  });

  it("refuse a directive not written exactly, rather than ignore it as a comment", () => {
    for (const line of [
      '-- @include "a"',
      "--- @include a",
      "--- @include 'a'",
      '--- @include "../a"',
      '--- @include "a" trailing',
      '  --- @include "a"',
    ]) {
      const err = refusal(() => expandIncludes("s-1.lua", line, from({ a: "local a = 1" })));
      expect(err.message, line).to.contain("malformed include");
    }
  });
});
