/** The operator CLI's commands: each one request to the coordinator, printed for people or as JSON. */
import type {
  ActionAnswer,
  InDoubtAnswer,
  StatsAnswer,
} from "../../coordinator/operator-routes.js";
import { txidSchema } from "../../shared/messages.js";
import { UsageError } from "../cli-args.js";
import { callApi } from "./api-client.js";
import type { Connection } from "./connection.js";
import { LIST_FLAGS, listQuery } from "./list-query.js";
import { renderAction, renderDetail, renderInDoubt, renderList, renderStats } from "./render.js";

export type Flags = Record<string, string | number | boolean>;

export interface Command {
  /** The words that name it: ["tx", "list"], ["stats"]. */
  words: readonly string[];
  /** Positional arguments after the words. */
  args: readonly string[];
  /** The command's own flags (besides --json, --url, --dir, --help). */
  flags: readonly string[];
  run: (c: Connection, args: string[], flags: Flags) => Promise<{ answer: unknown; text: string }>;
}

function txidArg(value: string | undefined): string {
  const parsed = txidSchema.safeParse(value);
  if (!parsed.success)
    throw new UsageError(
      `<txid> ${parsed.error.issues[0]?.message ?? "is invalid"}, got ${JSON.stringify(value ?? "")}`,
    );
  return parsed.data;
}

const action = (name: "abort" | "retry"): Command => ({
  words: ["tx", name],
  args: ["<txid>"],
  flags: [],
  run: async (c, [txid]) => {
    const path = `/v1/operator/transactions/${txidArg(txid)}/${name}`;
    const answer = await callApi(c, "POST", path, {});
    return { answer, text: renderAction(answer as ActionAnswer) };
  },
});

export const COMMANDS: readonly Command[] = [
  {
    words: ["tx", "list"],
    args: [],
    flags: Object.keys(LIST_FLAGS),
    run: async (c, _args, flags) => {
      const answer = await callApi(c, "GET", `/v1/transactions${listQuery(flags)}`);
      return { answer, text: renderList(answer) };
    },
  },
  {
    words: ["tx", "show"],
    args: ["<txid>"],
    flags: [],
    run: async (c, [txid]) => {
      const answer = await callApi(c, "GET", `/v1/transactions/${txidArg(txid)}`);
      return { answer, text: renderDetail(answer) };
    },
  },
  action("abort"),
  action("retry"),
  {
    words: ["prepared"],
    args: [],
    flags: [],
    run: async (c) => {
      const answer = await callApi(c, "GET", "/v1/operator/in-doubt");
      return { answer, text: renderInDoubt(answer as InDoubtAnswer) };
    },
  },
  {
    words: ["stats"],
    args: [],
    flags: [],
    run: async (c) => {
      const answer = await callApi(c, "GET", "/v1/operator/stats");
      return { answer, text: renderStats(answer as StatsAnswer) };
    },
  },
];

/** The command `positional` names, and its arguments; a UsageError saying what exists otherwise. */
export function findCommand(positional: readonly string[]): { command: Command; args: string[] } {
  const command = COMMANDS.find((c) => c.words.every((w, i) => positional[i] === w));
  if (!command) {
    const given =
      positional.length === 0 ? "no command" : `unknown command "${positional.join(" ")}"`;
    throw new UsageError(
      `${given}; commands: ${COMMANDS.map((c) => c.words.join(" ")).join(", ")}`,
    );
  }
  const args = positional.slice(command.words.length);
  if (args.length !== command.args.length)
    throw new UsageError(
      `${command.words.join(" ")} takes ${command.args.length === 0 ? "no arguments" : command.args.join(" ")}${args.length > command.args.length ? `; unexpected ${args[command.args.length] ?? ""}` : ""}`,
    );
  return { command, args };
}
