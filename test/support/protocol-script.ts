/**
 * Data-driven scripts for the protocol core, in the manner of etcd raft's testdata files: each
 * block is a command (a new transaction, an event, a look at the state), a `----` line, and the
 * output the core must give: the effects of the event, one per line. The files read as the
 * protocol's specification; `CONCORD_REWRITE_SCRIPTS=1` writes the actual output back into
 * them, to be reviewed like any other change.
 */
import { AssertionError } from "node:assert";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { expect } from "chai";
import {
  fromLog,
  initialState,
  participantStates,
  step,
  unknownTransaction,
  type CoreState,
  type Effect,
  type Event,
} from "../../coordinator/protocol.js";
import type { Decision, Vote } from "../../shared/messages.js";

export const SCRIPT_TXID = "0190a6d2-6b1e-7c3a-9f00-2c5e1a7b8d90";

export interface Block {
  command: string;
  expected: string;
  /** The line the command is on, for failure messages. */
  line: number;
}

/**
 * Splits a script into its blocks: comments (#) and blank lines between blocks are kept aside.
 * `keepIndent` keeps each output line's leading spaces (the participant scripts' path trees).
 */
export function parseScript(text: string, keepIndent = false): Block[] {
  const lines = text.split("\n");
  const blocks: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = (lines[i] ?? "").trim();
    if (line === "" || line.startsWith("#")) continue;
    if (lines[i + 1]?.trim() !== "----")
      throw new Error(`line ${i + 2}: expected ---- after "${line}"`);
    const out: string[] = [];
    let j = i + 2;
    for (; j < lines.length && (lines[j] ?? "").trim() !== ""; j++)
      out.push(keepIndent ? (lines[j] ?? "").trimEnd() : (lines[j] ?? "").trim());
    blocks.push({ command: line, expected: out.join("\n"), line: i + 1 });
    i = j;
  }
  return blocks;
}

/** The script with each block's output replaced by `outputs` (comments and spacing kept). */
export function rewriteScript(text: string, outputs: string[]): string {
  const lines = text.split("\n");
  const result: string[] = [];
  let block = 0;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? "";
    result.push(line);
    if (line.trim() === "" || line.trim().startsWith("#") || lines[i + 1]?.trim() !== "----")
      continue;
    result.push("----", ...(outputs[block++] ?? "").split("\n"));
    let j = i + 2;
    while (j < lines.length && (lines[j] ?? "").trim() !== "") j++;
    i = j - 1;
  }
  return result.join("\n");
}

/** `key=value` and bare words of a command line; values may be "double quoted". */
function tokens(line: string): { words: string[]; args: Map<string, string> } {
  const words: string[] = [];
  const args = new Map<string, string>();
  for (const m of line.matchAll(/(\S+?)=("([^"]*)"|\S*)|(\S+)/g)) {
    if (m[4] !== undefined) words.push(m[4]);
    else args.set(m[1] ?? "", m[3] ?? m[2] ?? "");
  }
  return { words, args };
}

const list = (value: string | undefined): string[] =>
  value === undefined || value === "" ? [] : value.split(",");

function pairs(value: string | undefined): Record<string, string> {
  return Object.fromEntries(list(value).map((pair) => pair.split(":") as [string, string]));
}

/** One transaction's core, driven by a script's commands. */
export class ScriptRunner {
  private state: CoreState | undefined;

  run(command: string): string {
    const { words, args } = tokens(command);
    const [name = "", ...rest] = words;
    try {
      switch (name) {
        case "engine":
          return this.begin(
            initialState(SCRIPT_TXID, list(args.get("participants")), {
              ordered: rest.includes("ordered"),
              ...(args.has("budget") ? { phase2Budget: Number(args.get("budget")) } : {}),
            }),
          );
        case "log":
          return this.begin(fromLogCommand(rest, args));
        case "unknown":
          return this.begin(
            unknownTransaction(SCRIPT_TXID, args.get("driver") === "replay" ? "replay" : "inquiry"),
          );
        case "state":
          return describeState(this.current());
        default:
          return this.event(toEvent(name, rest, args));
      }
    } catch (err) {
      // The first line: node adds a diff of the values below it.
      if (err instanceof AssertionError) return `error: ${err.message.split("\n")[0] ?? ""}`;
      throw err;
    }
  }

  private begin(state: CoreState): string {
    this.state = state;
    return describeState(state);
  }

  private current(): CoreState {
    if (!this.state)
      throw new Error("no transaction: start the script with engine, log or unknown");
    return this.state;
  }

  private event(event: Event): string {
    // Frozen: the core never mutates the state it is given (a write would throw here).
    const before = deepFreeze(this.current());
    const { state, effects } = step(before, event);
    this.state = state;
    return effects.length === 0 ? "(no effects)" : effects.map(describeEffect).join("\n");
  }
}

function fromLogCommand(words: string[], args: Map<string, string>): CoreState {
  const driver = args.get("driver") ?? "recovery";
  if (driver !== "recovery" && driver !== "inquiry" && driver !== "replay") {
    throw new Error(`unknown driver ${driver}`);
  }
  const decision = args.get("decision") as Decision | undefined;
  return fromLog(
    {
      txid: SCRIPT_TXID,
      participants: list(args.get("participants")),
      onePhase: words.includes("one-phase"),
      votes: pairs(args.get("votes")) as Record<string, Vote>,
      decision,
      reason: args.get("reason"),
      acks: Object.fromEntries(list(args.get("acks")).map((p) => [p, 1])),
      state: words.includes("ended") ? (decision === "commit" ? "committed" : "aborted") : "",
      presumed: words.includes("presumed"),
    },
    driver,
    args.has("budget") ? { phase2Budget: Number(args.get("budget")) } : {},
  );
}

function toEvent(name: string, words: string[], args: Map<string, string>): Event {
  const [first = "", second = ""] = words;
  const reason = args.get("reason") ?? "";
  const withReason = args.has("reason") ? { reason } : {};
  const flag = (key: string) => args.get(key) === "true";
  switch (name) {
    case "start":
    case "deadline":
    case "reply-wait-expired":
    case "ended":
      return { type: name };
    case "vote":
      return { type: "vote", participant: first, vote: second as Vote, ...withReason };
    case "prepare-failed":
      return { type: "prepare-failed", participant: first, reason };
    case "decision-stored":
      return {
        type: "decision-stored",
        decision: first as Decision,
        reason,
        ...(args.has("votes") ? { votes: pairs(args.get("votes")) as Record<string, Vote> } : {}),
      };
    case "decision-unknown":
      return { type: "decision-unknown", error: args.get("error") ?? "" };
    case "decision-not-written":
      return { type: "decision-not-written", why: "one-phase" };
    case "ack":
      return { type: "ack", participant: first };
    case "decision-failed":
      return {
        type: "decision-failed",
        participant: first,
        refused: words.includes("refused"),
        reason,
      };
    case "one-phase-result": {
      const refusal = args.get("refusal");
      const outcome = first as "committed" | "aborted";
      return { type: "one-phase-result", outcome, ...withReason, ...(refusal ? { refusal } : {}) };
    }
    case "one-phase-refused":
      return { type: "one-phase-refused", reason };
    case "one-phase-failed":
      return { type: "one-phase-failed", reason };
    case "settle-result":
      return {
        type: "settle-result",
        outcome: first as "aborted" | "committed" | "unknown",
        reason,
      };
    case "recovered":
      return { type: "recovered", deadlinePassed: flag("deadline-passed") };
    case "inquiry":
      return {
        type: "inquiry",
        asker: args.get("asker") ?? "",
        drivenHere: flag("driven-here"),
        deadlinePassed: flag("deadline-passed"),
      };
    case "replay":
      return { type: "replay", gone: flag("gone") };
    default:
      throw new Error(`unknown command ${name}`);
  }
}

const quote = (text: string | undefined) => JSON.stringify(text ?? "");
const joined = (items: readonly string[]) => (items.length === 0 ? "-" : items.join(","));

export function describeEffect(effect: Effect): string {
  switch (effect.type) {
    case "send-prepare":
    case "send-one-phase":
    case "settle-one-phase":
      return `${effect.type} ${effect.participant}`;
    case "write-decision": {
      const votes = Object.entries(effect.votes).map(([p, v]) => `${p}:${v}`);
      return `write-decision ${effect.decision} by=${effect.by} votes=${joined(votes)} reason=${quote(effect.reason)}`;
    }
    case "send-decision":
      return `send-decision ${effect.participant} ${effect.decision} attempt=${effect.attempt}`;
    case "write-end":
    case "hand-off":
      return `${effect.type} acked=${joined(effect.acked)}`;
    case "let-go":
      return `let-go ${effect.index}`;
    case "reply":
      return `reply ${effect.outcome} reason=${quote(effect.reason)}`;
    case "answer": {
      const a = effect.answer;
      if (a.kind === "decision") return `answer ${a.decision}`;
      if (a.kind === "not-a-participant") return `answer not-a-participant asker=${a.asker}`;
      return "answer pending";
    }
  }
}

/** The state as the client would see it, and the bookkeeping that decides what comes next. */
export function describeState(s: CoreState): string {
  const view = participantStates(s).map((p) => `${p.name}:${p.vote}/${p.state}`);
  const lines = [
    `${s.driver} phase=${s.phase} decision=${s.decision ?? "-"} replied=${s.replied}${s.onePhase ? " one-phase" : ""}${s.ordered ? " ordered" : ""}${s.known ? "" : " unknown"}`,
    `participants ${joined(view)}`,
  ];
  if (s.decision !== undefined) {
    const acks = Object.keys(s.acks);
    lines.push(
      `phase2 targets=${joined(s.phase2Targets)} acks=${joined(acks)} refused=${joined(s.refused)}${s.handedOff ? " handed-off" : ""}`,
    );
  }
  return lines.join("\n");
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === "object" && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const inner of Object.values(value)) deepFreeze(inner);
  }
  return value;
}

/**
 * One test per script file in `dir`, named after the file: every block's output must be what
 * `run` gives for the file's blocks, in order; with CONCORD_REWRITE_SCRIPTS=1 the file is
 * rewritten with the actual output instead. A script fails at its first differing block,
 * naming the file and line.
 */
export function itEachScript(
  dir: string,
  run: (blocks: Block[]) => string[],
  keepIndent = false,
): void {
  const files = readdirSync(dir)
    .filter((f) => f.endsWith(".txt"))
    .sort();
  it("has scripts to run", () => {
    expect(files.length).to.be.greaterThan(0);
  });
  for (const file of files) {
    const title = file
      .replace(/\.txt$/, "")
      .replace(/^\d+-/, "")
      .replaceAll("-", " ");
    it(title, () => {
      const path = join(dir, file);
      const text = readFileSync(path, "utf8");
      const blocks = parseScript(text, keepIndent);
      const outputs = run(blocks);
      if (process.env.CONCORD_REWRITE_SCRIPTS === "1") {
        writeFileSync(path, rewriteScript(text, outputs));
        return;
      }
      blocks.forEach((block, i) => {
        expect(outputs[i], `${file}:${block.line}: ${block.command}`).to.equal(block.expected);
      });
    });
  }
}
