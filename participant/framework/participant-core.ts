/**
 * The participant's decisions as a pure function: `decide(message, facts) -> step`. No I/O.
 * Given which message arrived and what is known so far — what PostgreSQL says (prepared under
 * our gid? the outcome row), what the journal says (our vote, the decision), how the local
 * transaction ended and what each journal write answered — it says what to do next: the actions
 * the shell (participant.ts) performs in order, and then either the answer, a refusal, or
 * nothing (the last action gathered a fact: decide again with it). The shell keeps SQL and
 * Redis; it never decides. The unit tests drive this through every combination as scripts
 * (test/unit/participant-scripts/).
 *
 * Two promises are checked on every step (`guard`), and a step that would break one is an
 * internal error, never performed: a YES vote is answered only for a transaction PREPARE
 * TRANSACTION prepared here whose YES is journaled (or one that committed here since), and
 * COMMIT PREPARED is issued only with COMMIT journaled.
 */
import type { Decision, Vote } from "../../shared/messages.js";

export type Message = "prepare" | "one-phase" | "commit" | "abort" | "peer-inquiry";

/** What PostgreSQL says: a transaction prepared under our gid, and the txid's outcome row. */
export interface PgFacts {
  prepared: boolean;
  outcome: "committed" | "aborted" | "none";
}

/** What the journal holds for the txid ("none" for no record or no such field). */
export type JournalFacts =
  { kind: "read"; vote: Vote | "none"; decision: Decision | "none" } | JournalFailure;

/** A journal call that failed; `unreachable`: Redis is down (not a bug, not a refusal). */
export interface JournalFailure {
  kind: "failed";
  unreachable: boolean;
}

/**
 * How the local transaction (operations, then PREPARE TRANSACTION or, in one phase, COMMIT)
 * ended: `executed` (prepared, or committed in one phase; `readOnly`: nothing was written and
 * it was rolled back), `seen-before` (the txid's outcome row exists: a tombstone or a commit),
 * `already-prepared` (prepared here under this gid already), `refused` (the application's or
 * the framework's refusal), `contention` (a lock or statement timeout, a deadlock...) or
 * `failed` (anything else: the error is not ours to judge).
 */
export type LocalRun =
  | { kind: "executed"; readOnly: boolean }
  | { kind: "seen-before" }
  | { kind: "already-prepared" }
  | { kind: "refused"; reason: string; detail?: Record<string, unknown> }
  | { kind: "contention"; reason: string }
  | { kind: "failed" };

/** The answer of recording our vote (the first vote recorded wins). */
export type VoteWrite =
  | { kind: "recorded"; vote: Vote }
  | { kind: "already-voted"; vote: Vote; decision: Decision | "none" }
  /** A decision is journaled and no vote: nothing was written. */
  | { kind: "decided"; decision: Decision }
  | JournalFailure;

/** The answer of journaling a decision (write-once: the stored one comes back). */
export type DecisionWrite =
  | { kind: "stored"; decision: Decision }
  /** COMMIT asked only where our YES is journaled, and there is none: nothing was written. */
  | { kind: "not-voted" }
  | JournalFailure;

/** Everything known so far about one message's txid; the shell fills in what actions return. */
export interface Facts {
  run?: LocalRun;
  pg?: PgFacts;
  journal?: JournalFacts;
  voteWrite?: VoteWrite;
  decisionWrite?: DecisionWrite;
  /** COMMIT PREPARED: `not-prepared` when nothing is prepared under our gid. */
  commitPrepared?: "done" | "not-prepared";
}

export type Action =
  /** Fact-gathering actions: each is last in its step, and its result is decided on next. */
  | { type: "run-local" }
  | { type: "read-postgres" }
  | { type: "read-journal" }
  | { type: "journal-vote"; vote: Vote; reason?: string }
  | {
      type: "journal-decision";
      decision: Decision;
      reason: string;
      /** Where no YES of ours is journaled: refuse (`voted-yes`) or create the record (`create`). */
      missing: "voted-yes" | "create";
    }
  | { type: "commit-prepared" }
  /** Actions that only change the world. */
  | { type: "rollback-prepared" }
  | { type: "write-tombstone" }
  /** The journal's end record (lets the entry expire); `background`: the answer does not wait. */
  | { type: "journal-end"; background: boolean };

export type Answer =
  | {
      kind: "vote";
      vote: Vote;
      reason?: string;
      detail?: Record<string, unknown>;
      /** The operations' results go with it (the PREPARE that executed them). */
      results: boolean;
    }
  | {
      kind: "one-phase";
      outcome: "committed" | "aborted";
      reason?: string;
      detail?: Record<string, unknown>;
      results: boolean;
    }
  | { kind: "ack"; state: "committed" | "aborted" }
  | { kind: "inquiry"; decision: Decision | "unknown" };

/** Why the message is refused (an HTTP error); `why` replaces the error's default wording. */
export type Refusal =
  | { kind: "already-aborted" | "already-committed" | "not-prepared"; why?: string }
  | { kind: "already-prepared" }
  /** A store failed; the message says what was (not) done. */
  | { kind: "unavailable"; message: string }
  /** The error of the local run or of the failed journal call, thrown as it is (a bug). */
  | { kind: "rethrow" }
  /** Facts that cannot be seen together: an internal error, once the actions undid what they can. */
  | { kind: "invariant"; message: string };

export interface Step {
  actions: Action[];
  /** Undefined: the last action gathers a fact; decide again with it. */
  end?: { answer: Answer } | { refusal: Refusal };
}

/** A step the core must never take: a bug in the table, thrown rather than performed. */
export class ParticipantInvariantError extends Error {
  constructor(message: string) {
    super(`participant invariant: ${message}`);
    this.name = "ParticipantInvariantError";
  }
}

const ALREADY_ABORTED = "already-aborted";

const act = (...actions: Action[]): Step => ({ actions });
const answer = (a: Answer, ...actions: Action[]): Step => ({ actions, end: { answer: a } });
const refuse = (r: Refusal, ...actions: Action[]): Step => ({ actions, end: { refusal: r } });
const vote = (v: Vote, extra: Partial<Extract<Answer, { kind: "vote" }>> = {}): Answer => ({
  kind: "vote",
  vote: v,
  results: false,
  ...extra,
});
const impossible = (what: string): never => {
  throw new ParticipantInvariantError(what);
};

/** What to do next for `message`, given `facts`; every step is checked by `guard`. */
export function decide(message: Message, facts: Facts): Step {
  checkFacts(facts);
  const step = decideUnchecked(message, facts);
  guard(message, facts, step);
  return step;
}

function decideUnchecked(message: Message, facts: Facts): Step {
  switch (message) {
    case "prepare":
      return prepare(facts);
    case "one-phase":
      return onePhase(facts);
    case "commit":
      return commit(facts);
    case "abort":
      return abort(facts);
    case "peer-inquiry":
      return peerInquiry(facts);
  }
}

/** A journal call failed: Redis down is a 503 saying what was done; anything else a bug. */
function journalFailed(failure: JournalFailure, done: string, ...actions: Action[]): Step {
  return failure.unreachable
    ? refuse({ kind: "unavailable", message: `journal unreachable; ${done}` }, ...actions)
    : refuse({ kind: "rethrow" }, ...actions);
}

/**
 * PREPARE: execute and PREPARE TRANSACTION, then journal the vote before it is answered. PostgreSQL
 * answers whether the txid was seen: the outcome row's insert fails on a tombstone or a commit,
 * and a repeated PREPARE of a transaction we hold prepared is refused as already-prepared.
 */
function prepare(f: Facts): Step {
  const run = f.run;
  if (!run) return act({ type: "run-local" });
  switch (run.kind) {
    case "failed":
      return refuse({ kind: "rethrow" });
    case "executed":
      return run.readOnly ? readOnlyVote(f) : journalYes(f);
    case "already-prepared":
      return journalYes(f);
    case "seen-before":
      // Committed means our YES was given and acted on; a tombstone means NO.
      if (!f.pg) return act({ type: "read-postgres" });
      return answer(
        f.pg.outcome === "committed" ? vote("yes") : vote("no", { reason: ALREADY_ABORTED }),
      );
    case "refused":
      return tombstoneNo(f, run.reason, run.detail);
    case "contention":
      // Waiting on our own outcome row means this txid is already prepared (a repeated PREPARE
      // whose journal entry was lost): that is a YES, and a tombstone would wait on it forever.
      if (!f.pg) return act({ type: "read-postgres" });
      return f.pg.prepared ? journalYes(f) : tombstoneNo(f, run.reason, undefined);
  }
}

/** Nothing was written and the transaction rolled back: only the vote is journaled. */
function readOnlyVote(f: Facts): Step {
  const w = f.voteWrite;
  if (!w) return act({ type: "journal-vote", vote: "read-only" });
  if (w.kind === "failed")
    return journalFailed(w, "nothing was done: the transaction was rolled back, nothing voted");
  return answer(vote("read-only", { results: true }));
}

/** The YES vote is journaled before it is sent; without the journal entry there is no YES. */
function journalYes(f: Facts): Step {
  const w = f.voteWrite;
  if (!w) return act({ type: "journal-vote", vote: "yes" });
  const results = f.run?.kind === "executed";
  const rollbackAndRefuse: Action[] = [{ type: "rollback-prepared" }, { type: "write-tombstone" }];
  switch (w.kind) {
    case "failed":
      // The write may have landed with its reply lost: the tombstone makes sure the YES it may
      // hold can never be acted on (PostgreSQL is the truth about what is prepared).
      // Whatever the failure: a YES we cannot be sure of is never left standing.
      return refuse(
        {
          kind: "unavailable",
          message: `journal ${w.unreachable ? "unreachable" : "write failed"}; nothing was done: the transaction was rolled back, and a repeated PREPARE votes NO`,
        },
        ...rollbackAndRefuse,
      );
    case "decided":
      // An ABORT journaled before a crash kept it from writing its tombstone: finish its work.
      if (w.decision === "commit") return impossible("COMMIT journaled with no vote of ours");
      return answer(vote("no", { reason: ALREADY_ABORTED }), ...rollbackAndRefuse);
    case "recorded":
      return answer(vote("yes", { results }));
    case "already-voted":
      // ABORT is journaled (write-once), whatever was prepared since: finish its work, vote NO.
      if (w.decision === "abort")
        return answer(vote("no", { reason: ALREADY_ABORTED }), ...rollbackAndRefuse);
      // Executed afresh although COMMIT is journaled: its outcome row should have stopped it.
      // This new work must never be committed by that COMMIT.
      if (w.decision === "commit" && f.run?.kind === "executed")
        return refuse(
          { kind: "invariant", message: "executed afresh a transaction whose COMMIT is journaled" },
          { type: "rollback-prepared" },
        );
      if (w.vote === "yes") return answer(vote("yes", { results }));
      // Voted read-only before (nothing written then): that vote stands, this work is undone.
      if (w.vote === "read-only") return answer(vote("read-only"), { type: "rollback-prepared" });
      // A NO is journaled only after its tombstone, which no PREPARE gets past.
      return impossible("prepared again after a NO vote was journaled");
  }
}

/** A NO vote, made permanent by a tombstone before it is journaled and sent. */
function tombstoneNo(f: Facts, reason: string, detail: Record<string, unknown> | undefined): Step {
  const w = f.voteWrite;
  if (!w) return act({ type: "write-tombstone" }, { type: "journal-vote", vote: "no", reason });
  if (w.kind === "failed")
    return journalFailed(
      w,
      "nothing was done: the transaction was not prepared, and a repeated PREPARE votes NO",
    );
  return answer(vote("no", { reason, ...(detail ? { detail } : {}) }));
}

/** One participant only: execute and commit locally, no prepare round. */
function onePhase(f: Facts): Step {
  const j = f.journal;
  if (!j) return act({ type: "read-journal" });
  if (j.kind === "failed") return journalFailed(j, "nothing was done");
  const aborted = (reason: string, detail?: Record<string, unknown>): Answer => ({
    kind: "one-phase",
    outcome: "aborted",
    reason,
    results: false,
    ...(detail ? { detail } : {}),
  });
  const committed = (results: boolean): Answer => ({
    kind: "one-phase",
    outcome: "committed",
    results,
  });
  // An ABORT journaled before its tombstone was written (a crash between the two) still fences.
  if (j.decision === "abort") return answer(aborted(ALREADY_ABORTED));
  const run = f.run;
  if (!run) return act({ type: "run-local" });
  switch (run.kind) {
    case "failed":
      return refuse({ kind: "rethrow" });
    case "executed":
      return answer(committed(true));
    case "seen-before":
      if (!f.pg) return act({ type: "read-postgres" });
      return answer(f.pg.outcome === "committed" ? committed(false) : aborted(ALREADY_ABORTED));
    case "already-prepared":
      // Prepared here by a two-phase PREPARE of the same txid: only its decision may end it.
      return refuse({ kind: "already-prepared" });
    case "refused":
      return answer(aborted(run.reason, run.detail), { type: "write-tombstone" });
    case "contention":
      return answer(aborted(run.reason), { type: "write-tombstone" });
  }
}

/**
 * COMMIT: the journal takes it only where it holds our YES vote, written only after PREPARE
 * TRANSACTION succeeded: a stray COMMIT cannot put a decision there, and the common case costs
 * no query to PostgreSQL before COMMIT PREPARED.
 */
function commit(f: Facts): Step {
  const w = f.decisionWrite;
  if (!w)
    return act({
      type: "journal-decision",
      decision: "commit",
      reason: "COMMIT received",
      missing: "voted-yes",
    });
  switch (w.kind) {
    case "failed":
      return journalFailed(
        w,
        "nothing was done: COMMIT PREPARED was not issued (a repeated COMMIT finishes it)",
      );
    case "not-voted":
      return commitWithoutVote(f);
    case "stored":
      if (w.decision !== "commit")
        return refuse({ kind: "already-aborted", why: "has ABORT journaled; refusing COMMIT" });
      if (!f.commitPrepared) return act({ type: "commit-prepared" });
      if (f.commitPrepared === "done") return answer({ kind: "ack", state: "committed" });
      // Nothing prepared under this gid: a repeated COMMIT, or a broken invariant.
      if (!f.pg) return act({ type: "read-postgres" });
      if (f.pg.outcome === "committed") return answer({ kind: "ack", state: "committed" });
      return refuse({
        kind: "not-prepared",
        why: `has COMMIT journaled but is not prepared here (outcome: ${f.pg.outcome})`,
      });
  }
}

/** A COMMIT with no YES of ours journaled: only an earlier commit (one-phase) makes it right. */
function commitWithoutVote(f: Facts): Step {
  if (!f.pg) return act({ type: "read-postgres" });
  if (!f.pg.prepared && f.pg.outcome === "committed")
    return answer({ kind: "ack", state: "committed" });
  if (f.pg.outcome === "aborted") return refuse({ kind: "already-aborted" });
  return refuse({ kind: "not-prepared" });
}

/**
 * ABORT: journaled first (write-once: a COMMIT there wins), then the prepared transaction rolled
 * back and the tombstone written, which makes a PREPARE arriving after this ABORT vote NO.
 */
function abort(f: Facts): Step {
  if (!f.pg) return act({ type: "read-postgres" });
  // Committed (in one phase, or a COMMIT came first): ABORT can no longer hold.
  if (f.pg.outcome === "committed" && !f.pg.prepared) return refuse({ kind: "already-committed" });
  const w = f.decisionWrite;
  if (!w)
    return act({
      type: "journal-decision",
      decision: "abort",
      reason: "ABORT received",
      missing: "create",
    });
  switch (w.kind) {
    case "failed":
      return journalFailed(
        w,
        "nothing was done: the transaction was not rolled back (a repeated ABORT finishes it)",
      );
    case "not-voted":
      return impossible("a decision that creates its record found no vote");
    case "stored":
      if (w.decision !== "abort")
        return refuse({ kind: "already-committed", why: "has COMMIT journaled; refusing ABORT" });
      return answer(
        { kind: "ack", state: "aborted" },
        ...(f.pg.prepared ? [{ type: "rollback-prepared" } as const] : []),
        { type: "write-tombstone" },
        { type: "journal-end", background: true },
      );
  }
}

/**
 * A peer asks what we know while the coordinator is unreachable (cooperative termination).
 * We answer a decision only when we know it. If we have not voted, we never will: a tombstone
 * makes a later PREPARE vote NO, so answering ABORT is safe. If we voted YES and have no
 * decision, we are in doubt like the asker, and say so.
 */
function peerInquiry(f: Facts): Step {
  if (!f.pg || !f.journal) return act({ type: "read-postgres" }, { type: "read-journal" });
  const { pg, journal: j } = f;
  if (j.kind === "failed") return journalFailed(j, "nothing was done");
  const told = (decision: Decision | "unknown") => answer({ kind: "inquiry", decision });
  if (pg.outcome === "committed" && !pg.prepared) return told("commit");
  if (pg.outcome === "aborted") return told("abort");
  if (j.decision !== "none") return told(j.decision);
  if (pg.prepared || j.vote !== "none") return told("unknown");
  const w = f.decisionWrite;
  if (!w)
    return act({
      type: "journal-decision",
      decision: "abort",
      reason: "a peer asked before this participant voted",
      missing: "create",
    });
  if (w.kind === "failed") return journalFailed(w, "nothing was done");
  if (w.kind === "not-voted") return impossible("a decision that creates its record found no vote");
  // Under the txid's lock, nothing here could have journaled a COMMIT since we read the journal.
  if (w.decision !== "abort") return impossible("COMMIT journaled for a txid with no vote");
  return answer(
    { kind: "inquiry", decision: "abort" },
    { type: "write-tombstone" },
    { type: "journal-end", background: false },
  );
}

/**
 * Facts that cannot be seen together. The outcome row is written inside the transaction that is
 * prepared, so it is not visible while that is prepared (a tombstone would wait on its key).
 * COMMIT is journaled here only where our YES is.
 */
function checkFacts(f: Facts): void {
  if (f.pg?.prepared && f.pg.outcome !== "none")
    impossible(`prepared under our gid with a ${f.pg.outcome} outcome row`);
  const journaled =
    f.journal?.kind === "read"
      ? f.journal
      : f.voteWrite?.kind === "already-voted"
        ? f.voteWrite
        : undefined;
  if (journaled?.decision === "commit" && journaled.vote !== "yes")
    impossible(`COMMIT journaled without our YES (vote: ${journaled.vote})`);
}

/** The facts that let a YES be answered: prepared here now with our YES journaled, or committed. */
function yesAllowed(f: Facts): boolean {
  const preparedNow =
    (f.run?.kind === "executed" && !f.run.readOnly) ||
    f.run?.kind === "already-prepared" ||
    f.pg?.prepared === true;
  const w = f.voteWrite;
  const journaled =
    (w?.kind === "recorded" && w.vote === "yes") ||
    (w?.kind === "already-voted" && w.vote === "yes");
  const committedHere = f.run?.kind === "seen-before" && f.pg?.outcome === "committed";
  return (preparedNow && journaled) || committedHere;
}

/**
 * The two promises, checked on every step before the shell may perform it: a YES is answered
 * only with PREPARE TRANSACTION done and the YES journaled (or the transaction committed here
 * since), and COMMIT PREPARED is issued only with COMMIT journaled.
 */
export function guard(message: Message, f: Facts, step: Step): void {
  const a = step.end && "answer" in step.end ? step.end.answer : undefined;
  if (a?.kind === "vote" && a.vote === "yes" && (message !== "prepare" || !yesAllowed(f)))
    impossible("a YES vote answered without PREPARE TRANSACTION done and the YES journaled");
  const journaledCommit =
    message === "commit" &&
    f.decisionWrite?.kind === "stored" &&
    f.decisionWrite.decision === "commit";
  if (step.actions.some((x) => x.type === "commit-prepared") && !journaledCommit)
    impossible("COMMIT PREPARED without COMMIT journaled");
  const gathering = step.actions.filter((x) => isGathering(x.type));
  const last = step.actions.at(-1);
  if (step.end ? gathering.length > 0 : last === undefined || !isGathering(last.type))
    impossible("a step that gathers a fact must end with it, and only such a step may go on");
}

const GATHERING = new Set<Action["type"]>([
  "run-local",
  "read-postgres",
  "read-journal",
  "journal-vote",
  "journal-decision",
  "commit-prepared",
]);
export const isGathering = (type: Action["type"]) => GATHERING.has(type);
