/**
 * Data-driven scripts for the participant core (participant/framework/participant-core.ts), in
 * the manner of test/support/protocol-script.ts: each block is a command, a `----` line, and the
 * output the core must give. The core is a function of the facts known, so every block stands
 * alone:
 *
 *   <message> [fact=value ...]   one step: the actions, one per line, then the answer or the
 *                                refusal, or "(decide again)" when the last action gathers a fact
 *   tree <message> [fact=value ...]
 *                                every path from there: each fact-gathering action is followed by
 *                                every answer it can get (indented), down to the end of each path
 *   guard <message> [fact=value ...] step=<bad step>
 *                                the check every step passes, on a step the core never takes
 *
 * Facts: run=executed|read-only|seen-before|already-prepared|refused|contention|failed (with
 * reason= and detail=k:v,... for refused and contention), pg=prepared|not-prepared/<outcome>,
 * journal=<vote>/<decision>|failed:unreachable|failed:other, vote-write=recorded:<vote>|
 * already-voted:<vote>/<decision>|decided:<decision>|failed:..., decision-write=stored:<decision>|
 * not-voted|failed:..., commit-prepared=done|not-prepared. `CONCORD_REWRITE_SCRIPTS=1` writes the
 * actual output back into the files, to be reviewed like any other change.
 */
import {
  decide,
  guard,
  isGathering,
  ParticipantInvariantError,
  type Action,
  type Answer,
  type DecisionWrite,
  type Facts,
  type JournalFacts,
  type LocalRun,
  type Message,
  type PgFacts,
  type Refusal,
  type Step,
  type VoteWrite,
} from "../../participant/framework/participant-core.js";
import type { Decision, Vote } from "../../shared/messages.js";

const MESSAGES: readonly Message[] = ["prepare", "one-phase", "commit", "abort", "peer-inquiry"];

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

export function runCommand(command: string): string {
  const { words, args } = tokens(command);
  const [first = "", second = ""] = words;
  try {
    if (first === "tree") return explore(messageOf(second), factsOf(args), 0).join("\n");
    if (first === "guard") return checkGuard(messageOf(second), factsOf(args), args.get("step"));
    return describeStep(decide(messageOf(first), factsOf(args)));
  } catch (err) {
    if (err instanceof ParticipantInvariantError) return `error: ${err.message}`;
    throw err;
  }
}

function messageOf(word: string): Message {
  const message = MESSAGES.find((m) => m === word);
  if (!message) throw new Error(`unknown message ${word}; one of ${MESSAGES.join(", ")}`);
  return message;
}

function factsOf(args: Map<string, string>): Facts {
  const facts: Facts = {};
  for (const [key, value] of args) {
    if (key === "reason" || key === "detail" || key === "step") continue;
    if (key === "run") facts.run = runOf(value, args);
    else if (key === "pg") facts.pg = pgOf(value);
    else if (key === "journal") facts.journal = journalOf(value);
    else if (key === "vote-write") facts.voteWrite = voteWriteOf(value);
    else if (key === "decision-write") facts.decisionWrite = decisionWriteOf(value);
    else if (key === "commit-prepared") facts.commitPrepared = value as "done" | "not-prepared";
    else throw new Error(`unknown fact ${key}`);
  }
  return facts;
}

function runOf(value: string, args: Map<string, string>): LocalRun {
  const reason = args.get("reason") ?? "";
  const detail = args.get("detail");
  switch (value) {
    case "executed":
    case "read-only":
      return { kind: "executed", readOnly: value === "read-only" };
    case "seen-before":
    case "already-prepared":
    case "failed":
      return { kind: value };
    case "refused":
      return { kind: "refused", reason, ...(detail ? { detail: pairs(detail) } : {}) };
    case "contention":
      return { kind: "contention", reason };
    default:
      throw new Error(`unknown run ${value}`);
  }
}

const pairs = (text: string): Record<string, string> =>
  Object.fromEntries(text.split(",").map((p) => p.split(":") as [string, string]));

function pgOf(value: string): PgFacts {
  const [prepared = "", outcome = ""] = value.split("/");
  return { prepared: prepared === "prepared", outcome: outcome as PgFacts["outcome"] };
}

const failureOf = (value: string) =>
  ({ kind: "failed", unreachable: value === "failed:unreachable" }) as const;

function journalOf(value: string): JournalFacts {
  if (value.startsWith("failed")) return failureOf(value);
  const [vote = "", decision = ""] = value.split("/");
  return { kind: "read", vote: vote as Vote | "none", decision: decision as Decision | "none" };
}

function voteWriteOf(value: string): VoteWrite {
  if (value.startsWith("failed")) return failureOf(value);
  const [kind = "", rest = ""] = value.split(":");
  const [vote = "", decision = ""] = rest.split("/");
  if (kind === "recorded") return { kind, vote: vote as Vote };
  if (kind === "decided") return { kind, decision: vote as Decision };
  if (kind === "already-voted")
    return { kind, vote: vote as Vote, decision: (decision || "none") as Decision | "none" };
  throw new Error(`unknown vote-write ${value}`);
}

function decisionWriteOf(value: string): DecisionWrite {
  if (value.startsWith("failed")) return failureOf(value);
  if (value === "not-voted") return { kind: "not-voted" };
  const [kind = "", decision = ""] = value.split(":");
  if (kind === "stored") return { kind, decision: decision as Decision };
  throw new Error(`unknown decision-write ${value}`);
}

/** Runs the guard on a step the core would not take: `answer-yes`, `commit-prepared`, ... */
function checkGuard(message: Message, facts: Facts, step: string | undefined): string {
  const yes: Answer = { kind: "vote", vote: "yes", results: false };
  const steps: Record<string, Step> = {
    "answer-yes": { actions: [], end: { answer: yes } },
    "commit-prepared": { actions: [{ type: "commit-prepared" }] },
    "answer-after-read": { actions: [{ type: "read-postgres" }], end: { answer: yes } },
    "go-on-without-fact": { actions: [{ type: "write-tombstone" }] },
  };
  const bad = steps[step ?? ""];
  if (!bad) throw new Error(`unknown step ${step ?? ""}; one of ${Object.keys(steps).join(", ")}`);
  guard(message, facts, bad);
  return "ok";
}

const quote = (text: string) => JSON.stringify(text);

export function describeAction(a: Action): string {
  switch (a.type) {
    case "journal-vote":
      return `journal-vote ${a.vote}${a.reason !== undefined ? ` reason=${quote(a.reason)}` : ""}`;
    case "journal-decision":
      return `journal-decision ${a.decision} missing=${a.missing} reason=${quote(a.reason)}`;
    case "journal-end":
      return a.background ? "journal-end in-background" : "journal-end";
    default:
      return a.type;
  }
}

function describeAnswer(a: Answer): string {
  const extra = (reason?: string, detail?: Record<string, unknown>, results?: boolean) =>
    [
      reason !== undefined ? ` reason=${quote(reason)}` : "",
      detail ? ` detail=${JSON.stringify(detail)}` : "",
      results ? " +results" : "",
    ].join("");
  switch (a.kind) {
    case "vote":
      return `answer vote ${a.vote}${extra(a.reason, a.detail, a.results)}`;
    case "one-phase":
      return `answer ${a.outcome}${extra(a.reason, a.detail, a.results)}`;
    case "ack":
      return `answer ack ${a.state}`;
    case "inquiry":
      return `answer ${a.decision}`;
  }
}

function describeRefusal(r: Refusal): string {
  switch (r.kind) {
    case "unavailable":
      return `refuse 503 ${quote(r.message)}`;
    case "rethrow":
    case "already-prepared":
      return `refuse ${r.kind}`;
    case "invariant":
      return `refuse invariant ${quote(r.message)}`;
    default:
      return `refuse ${r.kind}${r.why !== undefined ? ` why=${quote(r.why)}` : ""}`;
  }
}

export function describeStep(step: Step): string {
  const lines = step.actions.map(describeAction);
  if (!step.end) lines.push("(decide again)");
  else if ("answer" in step.end) lines.push(describeAnswer(step.end.answer));
  else lines.push(describeRefusal(step.end.refusal));
  return lines.join("\n");
}

/** Every answer each fact-gathering action can get, with how it is written in a script. */
const DOMAINS: Record<string, [string, Partial<Facts>][]> = {
  "run-local": [
    ["run=executed", { run: { kind: "executed", readOnly: false } }],
    ["run=read-only", { run: { kind: "executed", readOnly: true } }],
    ["run=seen-before", { run: { kind: "seen-before" } }],
    ["run=already-prepared", { run: { kind: "already-prepared" } }],
    [
      "run=refused reason=insufficient-funds detail=account:a1",
      { run: { kind: "refused", reason: "insufficient-funds", detail: { account: "a1" } } },
    ],
    ["run=contention reason=lock-timeout", { run: { kind: "contention", reason: "lock-timeout" } }],
    ["run=failed", { run: { kind: "failed" } }],
  ],
  "read-postgres": (["not-prepared", "prepared"] as const).flatMap((p) =>
    (["none", "committed", "aborted"] as const).map((o): [string, Partial<Facts>] => [
      `pg=${p}/${o}`,
      { pg: { prepared: p === "prepared", outcome: o } },
    ]),
  ),
  "read-journal": [
    ...(["none", "yes", "no", "read-only"] as const).flatMap((v) =>
      (["none", "commit", "abort"] as const).map((d): [string, Partial<Facts>] => [
        `journal=${v}/${d}`,
        { journal: { kind: "read", vote: v, decision: d } },
      ]),
    ),
    ...failures("journal", (journal) => ({ journal })),
  ],
  "journal-vote": [
    ...(["yes", "no", "read-only"] as const).flatMap((v) =>
      (["none", "abort", "commit"] as const).map((d): [string, Partial<Facts>] => [
        `vote-write=already-voted:${v}/${d}`,
        { voteWrite: { kind: "already-voted", vote: v, decision: d } },
      ]),
    ),
    ...(["abort", "commit"] as const).map((d): [string, Partial<Facts>] => [
      `vote-write=decided:${d}`,
      { voteWrite: { kind: "decided", decision: d } },
    ]),
    ...failures("vote-write", (voteWrite) => ({ voteWrite })),
  ],
  "journal-decision": [
    ["decision-write=stored:commit", { decisionWrite: { kind: "stored", decision: "commit" } }],
    ["decision-write=stored:abort", { decisionWrite: { kind: "stored", decision: "abort" } }],
    ["decision-write=not-voted", { decisionWrite: { kind: "not-voted" } }],
    ...failures("decision-write", (decisionWrite) => ({ decisionWrite })),
  ],
  "commit-prepared": [
    ["commit-prepared=done", { commitPrepared: "done" }],
    ["commit-prepared=not-prepared", { commitPrepared: "not-prepared" }],
  ],
};

function failures(
  key: string,
  fact: (f: { kind: "failed"; unreachable: boolean }) => Partial<Facts>,
): [string, Partial<Facts>][] {
  return [true, false].map((unreachable) => [
    `${key}=failed:${unreachable ? "unreachable" : "other"}`,
    fact({ kind: "failed", unreachable }),
  ]);
}

/** The answers an action can get; a vote write first of all records the vote it was asked. */
function domainOf(a: Action): [string, Partial<Facts>][] {
  const domain = DOMAINS[a.type] ?? [];
  if (a.type !== "journal-vote") return domain;
  return [
    [`vote-write=recorded:${a.vote}`, { voteWrite: { kind: "recorded", vote: a.vote } }],
    ...domain,
  ];
}

/** The product of several actions' answers (peer inquiry reads PostgreSQL and the journal). */
function combinations(actions: Action[]): [string, Partial<Facts>][] {
  return actions.reduce<[string, Partial<Facts>][]>(
    (acc, a) =>
      acc.flatMap(([text, facts]) =>
        domainOf(a).map(([t, f]): [string, Partial<Facts>] => [
          text === "" ? t : `${text} ${t}`,
          { ...facts, ...f },
        ]),
      ),
    [["", {}]],
  );
}

/** Every path's end (its last line: an answer, a refusal or an error), for the unit test. */
export function pathEnds(message: string): string[] {
  const ends: string[] = [];
  explore(messageOf(message), {}, 0, (end) => ends.push(end));
  return ends;
}

function explore(
  message: Message,
  facts: Facts,
  depth: number,
  onEnd: (end: string) => void = () => undefined,
): string[] {
  const pad = " ".repeat(depth);
  const ended = (lines: string[]) => {
    onEnd((lines.at(-1) ?? "").trim());
    return lines.map((l) => pad + l);
  };
  if (depth > 40) return ended(["error: the path does not end"]);
  let step: Step;
  try {
    step = decide(message, facts);
  } catch (err) {
    if (err instanceof ParticipantInvariantError) return ended([`error: ${err.message}`]);
    throw err;
  }
  if (step.end) return ended(describeStep(step).split("\n"));
  const lines = step.actions.map((a) => pad + describeAction(a));
  for (const [text, found] of combinations(step.actions.filter((a) => isGathering(a.type)))) {
    lines.push(`${pad}  ${text}`);
    lines.push(...explore(message, { ...facts, ...found }, depth + 4, onEnd));
  }
  return lines;
}
