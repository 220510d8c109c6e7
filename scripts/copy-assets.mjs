// tsc copies only TypeScript output; the Lua scripts of the durable log ship beside it.
import { cpSync } from "node:fs";
cpSync("shared/lua", "dist/shared/lua", { recursive: true });
