/**
 * A Lua script's number of keys is taken from its file name, `<name>-<numberOfKeys>.lua`, and
 * nowhere else (shared/lua-scripts.ts): a name without a count is refused.
 */
import { expect } from "chai";
import { keyCountOf, LuaScriptError } from "../../shared/lua-scripts.js";

describe("Lua script key counts", () => {
  it("are the number that ends the file name", () => {
    expect(keyCountOf("begin-4.lua")).to.equal(4);
    expect(keyCountOf("decide-voted-3.lua")).to.equal(3);
    expect(keyCountOf("due-1.lua")).to.equal(1);
    expect(keyCountOf("ping-0.lua")).to.equal(0);
    expect(keyCountOf("wide-12.lua")).to.equal(12);
  });

  it("are required: a file name without a count is refused", () => {
    for (const file of [
      "begin.lua",
      "begin-x.lua",
      "begin-4",
      "begin-4.lua.bak",
      "-4.lua",
      "4.lua",
      "begin-04.lua",
      "begin--4.lua.txt",
      "includes/time-ms.lua",
    ]) {
      expect(() => keyCountOf(file), file)
        .to.throw(LuaScriptError)
        .with.property("message")
        .that.contains(JSON.stringify(file));
    }
  });
});
