/**
 * The operators' view of what is in doubt (GET /v1/operator/in-doubt): every participant's
 * prepared transactions, asked of each in parallel with a bounded wait, joined with what the
 * decision log says of each; and the log's own unfinished transactions with their
 * participants' acknowledgements. A participant that does not answer is listed as unreachable
 * with the error: one down participant must not hide what the others hold.
 */
import type { DurableLog, TxRecord } from "../shared/durable-log.js";
import { preparedAnswerSchema, type PreparedEntry } from "../shared/prepared-messages.js";
import { wireErrorOf } from "../shared/wire-errors.js";
import type { ParticipantClient } from "./participant-client.js";
import { withRedis } from "./redis-errors.js";
import type { InDoubtAnswer } from "./operator-routes.js";

type ParticipantView = InDoubtAnswer["participants"][number];
type Unfinished = InDoubtAnswer["unfinished"]["transactions"][number];

export interface InDoubtDeps {
  log: DurableLog;
  participants: ParticipantClient;
  /** How long each participant's list is waited for. */
  fanOutTimeoutMs: number;
}

const iso = (ms: number | undefined) =>
  ms === undefined || Number.isNaN(ms) ? null : new Date(ms).toISOString();

/** One participant's prepared list, or why it could not be had. */
async function askParticipant(
  deps: InDoubtDeps,
  name: string,
): Promise<
  { name: string; error: string } | { name: string; list: PreparedEntry[]; truncated: boolean }
> {
  try {
    const reply = await deps.participants.listPrepared(name, deps.fanOutTimeoutMs);
    if (reply.status !== 200) {
      const why = wireErrorOf(reply.data)?.message ?? "no error message";
      return { name, error: `GET /v1/prepared answered HTTP ${reply.status}: ${why}` };
    }
    const parsed = preparedAnswerSchema.safeParse(reply.data);
    if (!parsed.success)
      return {
        name,
        error: `GET /v1/prepared answered something that is not a prepared list (${parsed.error.issues[0]?.message ?? "invalid"})`,
      };
    return { name, list: parsed.data.prepared, truncated: parsed.data.truncated };
  } catch (err) {
    return { name, error: err instanceof Error ? err.message : String(err) };
  }
}

/** What the log says of a prepared transaction: its decision, undecided, or nothing at all. */
function logView(record: TxRecord | undefined, nowMs: number) {
  if (!record)
    return {
      log: "unknown" as const,
      state: null,
      decidedBy: null,
      deadlineAt: null,
      createdAt: null,
      logAgeMs: null,
    };
  return {
    log: record.decision ?? ("undecided" as const),
    state: record.state,
    decidedBy: record.decidedBy ?? null,
    deadlineAt: iso(record.deadlineAtMs),
    createdAt: iso(record.createdAtMs),
    logAgeMs: record.createdAtMs === undefined ? null : Math.max(0, nowMs - record.createdAtMs),
  };
}

function unfinishedView(record: TxRecord, nowMs: number): Unfinished {
  return {
    txid: record.txid,
    state: record.state,
    decision: record.decision ?? null,
    reason: record.reason ?? null,
    decidedBy: record.decidedBy ?? null,
    createdAt: iso(record.createdAtMs),
    deadlineAt: iso(record.deadlineAtMs),
    ageMs: record.createdAtMs === undefined ? null : Math.max(0, nowMs - record.createdAtMs),
    onePhase: record.onePhase,
    participants: record.participants.map((name) => ({
      name,
      vote: record.votes[name] ?? null,
      acknowledgedAt: iso(record.acks[name]),
    })),
  };
}

export async function inDoubt(deps: InDoubtDeps, limit: number): Promise<InDoubtAnswer> {
  const asked = Promise.all(deps.participants.names().map((name) => askParticipant(deps, name)));
  const [counts, undecided, unacked, nowMs] = await withRedis(() =>
    Promise.all([
      deps.log.activeCounts(),
      deps.log.listIndex("undecided", limit),
      deps.log.listIndex("unacked", limit),
      deps.log.nowMs(),
    ]),
  );
  const answers = await asked;
  const unfinishedIds = [...new Set([...undecided, ...unacked])].sort().reverse();
  const preparedIds = answers.flatMap((a) => ("list" in a ? a.list.map((p) => p.txid) : []));
  const records = await withRedis(() =>
    deps.log.getMany([...new Set([...unfinishedIds.slice(0, limit), ...preparedIds])]),
  );
  const byTxid = new Map(records.map((r) => [r.txid, r]));
  const participants = answers.map((a): ParticipantView => {
    if ("error" in a) return { name: a.name, reachable: false, error: a.error };
    const prepared = a.list.map((p) => ({ ...p, ...logView(byTxid.get(p.txid), nowMs) }));
    return { name: a.name, reachable: true, truncated: a.truncated, prepared };
  });
  const transactions = unfinishedIds.slice(0, limit).flatMap((txid) => {
    const record = byTxid.get(txid);
    return record ? [unfinishedView(record, nowMs)] : [];
  });
  return {
    at: new Date().toISOString(),
    counts,
    participants,
    unfinished: {
      truncated:
        unfinishedIds.length > limit ||
        undecided.length + unacked.length < counts.undecided + counts.unacked,
      transactions,
    },
  };
}
