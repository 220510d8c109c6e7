// tsc copies only TypeScript output; the Lua scripts of the durable log, and the SQL the local
// cluster runs to create each bank's database and role, ship beside it.
import { cpSync } from "node:fs";
cpSync("shared/lua", "dist/shared/lua", { recursive: true });
cpSync("scripts/postgres", "dist/scripts/postgres", { recursive: true });
