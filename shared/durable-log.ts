import { randomUUID } from "node:crypto";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Redis } from "ioredis";
import { z } from "zod";
import { API_KEY_ID_PATTERN } from "./config.js";
import { loadLuaScript, type LuaScript } from "./lua-scripts.js";
import {
  decisionSchema,
  idempotencyKeySchema,
  participantNameSchema,
  txidSchema,
  voteSchema,
  type Decision,
  type Vote,
} from "./messages.js";

/**
 * The durable log: the coordinator's decision log and each participant's journal are the same
 * module over different key spaces. Every multi-key step is one Lua script (shared/lua), so a
 * crash can never leave half of a step behind.
 *
 * Keys of one transaction and the index shard it belongs to share a hash tag, `{ns:shard}`: under
 * Redis Cluster a script only touches keys of one slot, and the global indexes are spread over
 * SHARD_COUNT slots instead of living on one node.
 */
export const SHARD_COUNT = 16;
const MAX_EVENTS = 1000;
const LUA_DIR = join(dirname(fileURLToPath(import.meta.url)), "lua");

/** A record's state (also the state the coordinator's API answers with). */
export const txStateSchema = z.enum([
  "preparing",
  "prepared",
  "committing",
  "aborting",
  "committed",
  "aborted",
  "read-only",
]);
export type TxState = z.infer<typeof txStateSchema>;
const decidedBySchema = z.enum(["engine", "recovery", "inquiry", "operator", "participant"]);
export type DecidedBy = z.infer<typeof decidedBySchema>;

/** Return codes of the scripts' headers, by name. */
export enum BeginCode {
  Begun = 1,
  Exists = -1,
}
export enum DecideCode {
  Written = 1,
  AlreadyDecided = 0,
  NoRecord = -1,
  OnePhase = -2,
  NotVoted = -3,
}
export enum VoteCode {
  Recorded = 1,
  AlreadyVoted = 0,
  Decided = -2,
}
export enum EndCode {
  Ended = 1,
  AlreadyEnded = 0,
  NotDecided = -1,
}

/** Thrown when begin finds a record for the txid already (a duplicate begin, or a presumed abort). */
export class TxExistsError extends Error {
  constructor(
    readonly txid: string,
    readonly state: string,
  ) {
    super(`transaction ${txid} already has a record (state ${state || "unknown"})`);
    this.name = "TxExistsError";
  }
}

/** Thrown when a step that needs a stored decision finds none: a programmer error in the caller. */
export class NotDecidedError extends Error {
  constructor(readonly txid: string) {
    super(`transaction ${txid} has no decision`);
    this.name = "NotDecidedError";
  }
}

/** Thrown when a participant's COMMIT finds no YES vote of its own journaled: nothing was written. */
export class NotVotedError extends Error {
  constructor(readonly txid: string) {
    super(`transaction ${txid} has no YES vote journaled here`);
    this.name = "NotVotedError";
  }
}

/** Thrown when an inquiry tries to decide a one-phase transaction, which only its participant can. */
export class OnePhaseUndecidedError extends Error {
  constructor(readonly txid: string) {
    super(`transaction ${txid} is one-phase: only its participant decides it`);
    this.name = "OnePhaseUndecidedError";
  }
}

/**
 * Thrown when a stored record holds a field or a value that no script writes: the log is
 * corrupt (or was written by something else), and nothing read from it may be trusted.
 */
export class CorruptRecordError extends Error {
  constructor(
    readonly txid: string,
    readonly field: string,
    readonly value: string,
    problem: string,
  ) {
    const shown = value.length > 200 ? `${value.slice(0, 200)}...` : value;
    super(
      `transaction ${txid}: corrupt record, field ${field} = ${JSON.stringify(shown)}: ${problem}`,
    );
    this.name = "CorruptRecordError";
  }
}

export interface TxRecord {
  txid: string;
  state: TxState;
  participants: string[];
  onePhase: boolean;
  timeoutMs: number | undefined;
  createdAtMs: number | undefined;
  deadlineAtMs: number | undefined;
  decision: Decision | undefined;
  reason: string | undefined;
  decidedBy: string | undefined;
  decidedAtMs: number | undefined;
  endedAtMs: number | undefined;
  presumed: boolean;
  idempotencyKey: string | undefined;
  /** The API key id that made it; undefined for an operator's or a presumed-abort record. */
  client: string | undefined;
  /** Its place among the attempts of one request: the first attempt's txid, its number, its neighbours. */
  series: string | undefined;
  attempt: number;
  previous: string | undefined;
  next: string | undefined;
  votes: Record<string, Vote>;
  acks: Record<string, number>;
}

export interface LogEvent {
  id: string;
  type: string;
  atMs: number;
  data: unknown;
}

export interface DecideResult {
  /** True when this call wrote the register; false when it found a decision and returned it. */
  won: boolean;
  decision: Decision;
  reason: string;
}

/**
 * The scripts, by the ioredis command each is registered as; each file name carries the
 * script's number of keys (lua-scripts.ts). Command names carry a prefix: ioredis has methods of
 * its own (`end` is an alias of disconnect), and a script registered under such a name would
 * never be called.
 */
const SCRIPT_FILES = {
  concordBegin: "begin-4.lua",
  concordDecidePresume: "decide-presume-4.lua",
  concordDecideCreate: "decide-create-4.lua",
  concordDecideVoted: "decide-voted-3.lua",
  concordRecordVote: "record-vote-3.lua",
  concordAck: "ack-3.lua",
  concordEnd: "end-4.lua",
  concordDue: "due-1.lua",
  concordPostpone: "postpone-1.lua",
  concordLinkNext: "link-next-1.lua",
  concordForget: "forget-4.lua",
} as const;
type ScriptName = keyof typeof SCRIPT_FILES;
type ScriptArg = string | number;

/** Read and expanded once per process: every connection registers the same text. */
let loadedScripts: Record<ScriptName, LuaScript> | undefined;
function scripts(): Record<ScriptName, LuaScript> {
  loadedScripts ??= Object.fromEntries(
    Object.entries(SCRIPT_FILES).map(([name, file]) => [name, loadLuaScript(LUA_DIR, file)]),
  ) as Record<ScriptName, LuaScript>;
  return loadedScripts;
}

/** Registers the scripts once per connection; ioredis then calls them by SHA (EVALSHA). */
function defineScripts(redis: Redis): void {
  if (registered.has(redis)) return;
  const target = redis as unknown as Record<string, unknown>;
  for (const [name, script] of Object.entries(scripts())) {
    if (typeof target[name] === "function")
      throw new Error(`ioredis already has a method named ${name}`);
    redis.defineCommand(name, { numberOfKeys: script.numberOfKeys, lua: script.lua });
  }
  registered.add(redis);
}
const registered = new WeakSet<Redis>();

/**
 * Runs a script registered by defineScripts. The keys are passed apart from the arguments and
 * counted against the file name, so a call that passes a key too few fails here, loudly,
 * instead of shifting a key into ARGV.
 */
function runScript<T>(
  redis: Redis,
  name: ScriptName,
  keys: string[],
  args: ScriptArg[],
): Promise<T> {
  const { numberOfKeys, file } = scripts()[name];
  if (keys.length !== numberOfKeys)
    throw new Error(`${file} takes ${numberOfKeys} keys, called with ${keys.length}`);
  const command = (redis as unknown as Record<ScriptName, (...a: ScriptArg[]) => Promise<T>>)[name];
  return command.call(redis, ...keys, ...args);
}

interface DecideOptions {
  reason?: string;
  by: DecidedBy;
  votes?: Record<string, Vote>;
  retryDelayMs?: number;
  /** What a txid with no record means; each mode is its own decide-* script (shared/lua). */
  missingRecord?: "presume" | "create" | { votedYes: string };
}

/** The decide-* script for the caller's mode, with its keys and arguments (see its header). */
function decideCall(
  k: { tx: string; events: string; undecided: string; unacked: string },
  retentionSeconds: number,
  txid: string,
  decision: Decision,
  p: DecideOptions,
): [ScriptName, string[], ScriptArg[]] {
  const mode = p.missingRecord ?? "presume";
  // Every decide-* script starts with these (shared/lua/includes/record-decision.lua).
  const asked = [txid, decision, p.reason ?? "", p.by, p.votes ? JSON.stringify(p.votes) : ""];
  const retryDelayMs = p.retryDelayMs ?? 5000;
  if (mode === "presume")
    return [
      "concordDecidePresume",
      [k.tx, k.events, k.undecided, k.unacked],
      [...asked, retryDelayMs, retentionSeconds, MAX_EVENTS],
    ];
  if (mode === "create")
    return [
      "concordDecideCreate",
      [k.tx, k.events, k.undecided, k.unacked],
      [...asked, retryDelayMs, MAX_EVENTS],
    ];
  return [
    "concordDecideVoted",
    [k.tx, k.events, k.undecided],
    [...asked, mode.votedYes, retentionSeconds, MAX_EVENTS],
  ];
}

/** FNV-1a over the txid: stable across processes and languages, cheap, evenly spread. */
export function shardOf(txid: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < txid.length; i++) {
    hash ^= txid.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash % SHARD_COUNT;
}

/**
 * Where finished transactions go once they leave Redis (coordinator/archive-store.ts). Set on the
 * coordinator's log when archiving is on: reads that must know a transaction's fate (an inquiry,
 * an idempotent replay, an attempt link) look there when Redis has no record.
 */
export interface ArchiveLookup {
  get(txid: string): Promise<TxRecord | undefined>;
  linkNext(previous: string, next: string): Promise<void>;
}

/** A transaction as Redis stores it, for copying elsewhere: the hash and the stream, unparsed. */
export interface RawTransaction {
  txid: string;
  fields: Record<string, string>;
  events: { id: string; type: string; atMs: number; data: string | undefined }[];
}

export interface DurableLogOptions {
  /** Key-space name: "coordinator" for the decision log, "participant:<name>" for a journal. */
  namespace: string;
  retentionSeconds: number;
}

export class DurableLog {
  archive: ArchiveLookup | undefined;

  constructor(
    readonly redis: Redis,
    private readonly options: DurableLogOptions,
  ) {
    defineScripts(redis);
  }

  private run<T>(name: ScriptName, keys: string[], args: ScriptArg[]): Promise<T> {
    return runScript<T>(this.redis, name, keys, args);
  }

  private tag(shard: number): string {
    return `{concord:${this.options.namespace}:${shard}}`;
  }
  private txKey(txid: string): string {
    return `${this.tag(shardOf(txid))}:tx:${txid}`;
  }
  private eventsKey(txid: string): string {
    return `${this.tag(shardOf(txid))}:ev:${txid}`;
  }
  private indexKey(shard: number, index: "undecided" | "unacked" | "finished"): string {
    return `${this.tag(shard)}:${index}`;
  }
  /** One API key's transactions in one shard; ids are plain slugs (config.ts API_KEY_ID_PATTERN). */
  private clientKey(shard: number, client: string): string {
    return `${this.tag(shard)}:client:${client}`;
  }
  private keysFor(txid: string) {
    const shard = shardOf(txid);
    return {
      tx: this.txKey(txid),
      events: this.eventsKey(txid),
      undecided: this.indexKey(shard, "undecided"),
      unacked: this.indexKey(shard, "unacked"),
      finished: this.indexKey(shard, "finished"),
    };
  }

  async begin(
    txid: string,
    p: {
      participants: string[];
      timeoutMs: number;
      onePhase: boolean;
      idempotencyKey?: string;
      client?: string;
      link?: { series: string; attempt: number; previous?: string };
    },
  ): Promise<{ createdAtMs: number; deadlineAtMs: number }> {
    const k = this.keysFor(txid);
    const token = randomUUID();
    const client = p.client ?? "";
    const [code, a, b, createdAt, deadlineAt] = await this.run<
      [BeginCode, ScriptArg, ScriptArg, ScriptArg?, ScriptArg?]
    >(
      "concordBegin",
      [k.tx, k.events, k.undecided, this.clientKey(shardOf(txid), client || "-")],
      [
        txid,
        JSON.stringify(p.participants),
        p.timeoutMs,
        p.onePhase ? "1" : "0",
        p.idempotencyKey ?? "",
        MAX_EVENTS,
        token,
        client,
        this.options.retentionSeconds * 1000,
        p.link?.series ?? "",
        p.link?.attempt ?? 1,
        p.link?.previous ?? "",
      ],
    );
    if (code !== BeginCode.Exists) return { createdAtMs: Number(a), deadlineAtMs: Number(b) };
    // Our own begin, resent by the client after a reconnect, already went through.
    if (String(b) === token)
      return { createdAtMs: Number(createdAt), deadlineAtMs: Number(deadlineAt) };
    throw new TxExistsError(txid, String(a));
  }

  /**
   * Writes the decision unless one is stored, and returns the stored one either way: the caller
   * must act on the returned decision, never on the one it asked for.
   */
  async decideOnce(txid: string, decision: Decision, p: DecideOptions): Promise<DecideResult> {
    const k = this.keysFor(txid);
    const [name, keys, args] = decideCall(k, this.options.retentionSeconds, txid, decision, p);
    const [code, stored, reason] = await this.run<[DecideCode, string, string]>(name, keys, args);
    if (code === DecideCode.NoRecord) throw new NotDecidedError(txid);
    if (code === DecideCode.OnePhase) throw new OnePhaseUndecidedError(txid);
    if (code === DecideCode.NotVoted) throw new NotVotedError(txid);
    return { won: code === DecideCode.Written, decision: stored as Decision, reason };
  }

  /** Journals a participant's vote; returns what is stored (the first vote wins). */
  async recordVote(
    txid: string,
    participant: string,
    vote: Vote,
    p: { reason?: string; participants?: readonly string[] } = {},
  ): Promise<{ code: VoteCode; vote: Vote | undefined; decision: Decision | undefined }> {
    const k = this.keysFor(txid);
    const participants =
      p.participants && p.participants.length > 0 ? JSON.stringify(p.participants) : "";
    const [code, stored, decision] = await this.run<[VoteCode, string, string]>(
      "concordRecordVote",
      [k.tx, k.events, k.undecided],
      [
        txid,
        participant,
        vote,
        p.reason ?? "",
        this.options.retentionSeconds,
        MAX_EVENTS,
        participants,
      ],
    );
    return {
      code,
      vote: (stored || undefined) as Vote | undefined,
      decision: (decision || undefined) as Decision | undefined,
    };
  }

  async ack(txid: string, acked: string[], nextRetryDelayMs: number): Promise<void> {
    const k = this.keysFor(txid);
    const [code] = await this.run<[number]>(
      "concordAck",
      [k.tx, k.events, k.unacked],
      [txid, JSON.stringify(acked), nextRetryDelayMs, MAX_EVENTS],
    );
    if (code !== 1) throw new NotDecidedError(txid);
  }

  async end(txid: string, acked: string[]): Promise<"committed" | "aborted"> {
    const k = this.keysFor(txid);
    const [code, state] = await this.run<[EndCode, string]>(
      "concordEnd",
      [k.tx, k.events, k.unacked, k.finished],
      [txid, JSON.stringify(acked), this.options.retentionSeconds, MAX_EVENTS],
    );
    if (code === EndCode.NotDecided) throw new NotDecidedError(txid);
    return state as "committed" | "aborted";
  }

  async get(txid: string): Promise<TxRecord | undefined> {
    const h = await this.redis.hgetall(this.txKey(txid));
    return Object.keys(h).length === 0 ? undefined : parseRecord(txid, h);
  }

  async getMany(txids: string[]): Promise<TxRecord[]> {
    if (txids.length === 0) return [];
    const pipeline = this.redis.pipeline();
    for (const txid of txids) pipeline.hgetall(this.txKey(txid));
    const replies = (await pipeline.exec()) ?? [];
    const records: TxRecord[] = [];
    replies.forEach(([err, h], i) => {
      const txid = txids[i];
      if (!err && txid && h && Object.keys(h).length > 0)
        records.push(parseRecord(txid, h as Record<string, string>));
    });
    return records;
  }

  async events(txid: string): Promise<LogEvent[]> {
    const entries = await this.redis.xrange(this.eventsKey(txid), "-", "+", "COUNT", MAX_EVENTS);
    return entries.map(([id, fields]) => {
      const f = fieldsToObject(fields);
      return {
        id,
        type: f.type ?? "",
        atMs: Number(f.at),
        data: f.data ? safeJson(f.data) : undefined,
      };
    });
  }

  /** Now on the Redis clock: the clock every deadline and retry time in the log is set on. */
  async nowMs(): Promise<number> {
    const [seconds, micros] = await this.redis.time();
    return Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
  }

  /** Transactions whose index time has passed on the Redis clock, across all shards. */
  async due(index: "undecided" | "unacked", limit: number): Promise<string[]> {
    const out: string[] = [];
    for (let shard = 0; shard < SHARD_COUNT && out.length < limit; shard++) {
      const [, ...members] = await this.run<ScriptArg[]>(
        "concordDue",
        [this.indexKey(shard, index)],
        [limit - out.length],
      );
      out.push(...members.map(String));
    }
    return out;
  }

  /** Makes a transaction due again only after `delayMs` (recovery backs off from it). */
  async postpone(txid: string, index: "undecided" | "unacked", delayMs: number): Promise<void> {
    await this.run<number>(
      "concordPostpone",
      [this.indexKey(shardOf(txid), index)],
      [txid, delayMs],
    );
  }

  /**
   * Every member of an index, page by page (ZSCAN per shard): members present for the whole
   * scan are returned at least once even while others are added or removed, so a caller can
   * finish entries as it goes. Memory stays at one page.
   */
  async *scanIndex(index: "undecided" | "unacked", pageSize: number): AsyncGenerator<string[]> {
    for (let shard = 0; shard < SHARD_COUNT; shard++) {
      let cursor = "0";
      do {
        const [next, flat] = await this.redis.zscan(
          this.indexKey(shard, index),
          cursor,
          "COUNT",
          pageSize,
        );
        cursor = next;
        const members = flat.filter((_, i) => i % 2 === 0);
        if (members.length > 0) yield members;
      } while (cursor !== "0");
    }
  }

  /** Counts of the active indexes: the work recovery would have right now. */
  async activeCounts(): Promise<{ undecided: number; unacked: number }> {
    const pipeline = this.redis.pipeline();
    for (let shard = 0; shard < SHARD_COUNT; shard++) {
      pipeline.zcard(this.indexKey(shard, "undecided"));
      pipeline.zcard(this.indexKey(shard, "unacked"));
    }
    const replies = (await pipeline.exec()) ?? [];
    let undecided = 0;
    let unacked = 0;
    replies.forEach(([, n], i) => {
      if (i % 2 === 0) undecided += Number(n);
      else unacked += Number(n);
    });
    return { undecided, unacked };
  }

  /**
   * Most recent transactions of one index, newest first. Reads at most `limit` per shard, so the
   * cost is bounded by the limit, never by history.
   */
  async listIndex(index: "undecided" | "unacked" | "finished", limit: number): Promise<string[]> {
    const pipeline = this.redis.pipeline();
    for (let shard = 0; shard < SHARD_COUNT; shard++)
      pipeline.zrevrange(this.indexKey(shard, index), 0, limit - 1);
    const replies = (await pipeline.exec()) ?? [];
    const all = replies.flatMap(([, members]) => (members as string[] | null) ?? []);
    // UUID v7 txids sort by creation time.
    return all.sort().reverse().slice(0, limit);
  }

  /** The most recent transactions one API key made, newest first (its own index, per shard). */
  async listClient(client: string, limit: number): Promise<string[]> {
    const pipeline = this.redis.pipeline();
    for (let shard = 0; shard < SHARD_COUNT; shard++)
      pipeline.zrevrange(this.clientKey(shard, client), 0, limit - 1);
    const replies = (await pipeline.exec()) ?? [];
    const all = replies.flatMap(([, members]) => (members as string[] | null) ?? []);
    return all.sort().reverse().slice(0, limit);
  }

  /**
   * Points an attempt at the one that follows it (the coordinator retried the request). Not
   * atomic with the new attempt's begin, which lives in another shard: the new attempt's own
   * `previous` field is the link that always holds; this one is for reading forwards.
   */
  async linkNextAttempt(previous: string, next: string): Promise<void> {
    const linked = await this.run<number>("concordLinkNext", [this.txKey(previous)], [next]);
    // No record in Redis: the earlier attempt may have been archived already.
    if (linked === 0 && this.archive) await this.archive.linkNext(previous, next);
  }

  /** The record in Redis, else in the archive (when there is one): where a finished one went. */
  async find(txid: string): Promise<TxRecord | undefined> {
    return (await this.get(txid)) ?? (await this.archive?.get(txid));
  }

  /** Key of an index shard, for readers that page through it (coordinator/history.ts). */
  indexKeyOf(shard: number, index: "undecided" | "unacked" | "finished"): string {
    return this.indexKey(shard, index);
  }
  clientIndexKeyOf(shard: number, client: string): string {
    return this.clientKey(shard, client);
  }

  /** Hashes and streams of some transactions, as stored (the archiver copies them). */
  async raw(txids: string[]): Promise<RawTransaction[]> {
    const pipeline = this.redis.pipeline();
    for (const txid of txids) {
      pipeline.hgetall(this.txKey(txid));
      pipeline.xrange(this.eventsKey(txid), "-", "+", "COUNT", MAX_EVENTS);
    }
    const replies = (await pipeline.exec()) ?? [];
    return txids.map((txid, i) => {
      const [hashErr, fields] = replies[2 * i] ?? [];
      const [streamErr, entries] = replies[2 * i + 1] ?? [];
      if (hashErr) throw hashErr;
      if (streamErr) throw streamErr;
      return {
        txid,
        fields: (fields ?? {}) as Record<string, string>,
        events: ((entries ?? []) as [string, string[]][]).map(([id, flat]) => {
          const f = fieldsToObject(flat);
          return { id, type: f.type ?? "", atMs: Number(f.at), data: f.data };
        }),
      };
    });
  }

  /**
   * Removes archived transactions from Redis (forget-4.lua), each only if still finished and
   * with the `next` link the archive got. Returns each one's code (1 forgotten).
   */
  async forget(items: { txid: string; client: string | undefined; next: string }[]) {
    const pipeline = this.redis.pipeline();
    for (const { txid, client, next } of items) {
      const shard = shardOf(txid);
      const keys = [
        this.txKey(txid),
        this.eventsKey(txid),
        this.indexKey(shard, "finished"),
        this.clientKey(shard, client ?? "-"),
      ];
      (pipeline as unknown as Record<ScriptName, (...a: ScriptArg[]) => unknown>).concordForget(
        ...keys,
        txid,
        next,
      );
    }
    const replies = (await pipeline.exec()) ?? [];
    return replies.map(([err, code]) => {
      if (err) throw err;
      return Number(code);
    });
  }

  private idempotencyKey(key: string): string {
    return `{concord:${this.options.namespace}:idempotency}:${key}`;
  }

  /**
   * Claims an idempotency key for a request whose first attempt is `txid`, or returns what holds
   * it: the latest attempt's txid, the request hash, and whether the request has its final
   * answer (`done`: no attempt follows).
   */
  async claimIdempotencyKey(
    key: string,
    txid: string,
    requestHash: string,
  ): Promise<
    { claimed: true } | { claimed: false; txid: string; requestHash: string; done: boolean }
  > {
    const redisKey = this.idempotencyKey(key);
    const ok = await this.redis.set(
      redisKey,
      `${txid} ${requestHash} running`,
      "EX",
      this.options.retentionSeconds,
      "NX",
    );
    if (ok === "OK") return { claimed: true };
    return this.idempotencyState(key);
  }

  /** What an idempotency key holds now (see claimIdempotencyKey). */
  async idempotencyState(
    key: string,
  ): Promise<{ claimed: false; txid: string; requestHash: string; done: boolean }> {
    const stored = (await this.redis.get(this.idempotencyKey(key))) ?? "";
    const [storedTxid = "", storedHash = "", state = "done"] = stored.split(" ");
    return { claimed: false, txid: storedTxid, requestHash: storedHash, done: state === "done" };
  }

  /** Moves an idempotency key to the request's latest attempt; `done` once no attempt will follow. */
  async advanceIdempotencyKey(
    key: string,
    txid: string,
    requestHash: string,
    done: boolean,
  ): Promise<void> {
    await this.redis.set(
      this.idempotencyKey(key),
      `${txid} ${requestHash} ${done ? "done" : "running"}`,
      "KEEPTTL",
      "XX",
    );
  }
}

function fieldsToObject(fields: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < fields.length; i += 2) out[fields[i] as string] = fields[i + 1] as string;
  return out;
}

export function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/**
 * What the scripts write into a record's fields, as parsers from the stored text. Every field
 * has one; a value no script writes, or a field none writes, makes the record corrupt. "" is
 * valid only where begin writes it for "none".
 */
const numberText = z
  .string()
  // Lua writes numbers as integers, or in exponent form past 2^53 ("1.0000000179614243e+20").
  .regex(/^-?[0-9]+(\.[0-9]+)?(e[+-]?[0-9]+)?$/, "must be a number")
  .transform(Number);
const flagText = z.enum(["0", "1"]).transform((flag) => flag === "1");
const participantsText = z
  .string()
  .transform((text, ctx) => {
    try {
      return JSON.parse(text) as unknown;
    } catch {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: "must be JSON" });
      return z.NEVER;
    }
  })
  .pipe(z.array(participantNameSchema));
const noneOr = <T extends z.ZodTypeAny>(schema: T) => z.union([z.literal(""), schema]);

const recordFieldsSchema = z
  .object({
    txid: txidSchema,
    state: txStateSchema,
    participants: participantsText,
    onePhase: flagText,
    timeoutMs: numberText,
    createdAt: numberText,
    deadlineAt: numberText,
    decision: decisionSchema,
    reason: z.string(),
    decidedBy: decidedBySchema,
    decidedAt: numberText,
    endedAt: numberText,
    presumed: flagText,
    idempotencyKey: noneOr(idempotencyKeySchema),
    client: noneOr(z.string().regex(API_KEY_ID_PATTERN, "must be an API key id")),
    series: noneOr(txidSchema),
    attempt: z
      .string()
      .regex(/^[1-9][0-9]*$/, "must be a whole number from 1")
      .transform(Number),
    previous: noneOr(txidSchema),
    next: txidSchema,
    // Read by begin only, to recognise its own begin resent.
    beginToken: z.string().uuid(),
  })
  // Every field is optional: which ones a record has depends on the scripts that wrote it.
  .partial();
const VOTE_PREFIX = "vote:";
const ACK_PREFIX = "ack:";

/** Parses one field's value with `schema`, or throws CorruptRecordError naming it. */
function parseField<T extends z.ZodTypeAny>(
  txid: string,
  field: string,
  value: string,
  schema: T,
): z.output<T> {
  const parsed = schema.safeParse(value);
  if (!parsed.success)
    throw new CorruptRecordError(txid, field, value, parsed.error.issues[0]?.message ?? "invalid");
  return parsed.data as z.output<T>;
}

/** The participant a `vote:<name>` or `ack:<name>` field is about. */
function participantOf(txid: string, field: string, value: string, prefix: string): string {
  const name = participantNameSchema.safeParse(field.slice(prefix.length));
  if (!name.success)
    throw new CorruptRecordError(
      txid,
      field,
      value,
      `the participant name in the field ${name.error.issues[0]?.message ?? "is invalid"}`,
    );
  return name.data;
}

/** A transaction's record from its stored hash; throws CorruptRecordError on any field no script writes. */
export function parseRecord(txid: string, h: Record<string, string>): TxRecord {
  const votes: Record<string, Vote> = {};
  const acks: Record<string, number> = {};
  const plain: Record<string, string> = {};
  for (const [field, value] of Object.entries(h)) {
    if (field.startsWith(VOTE_PREFIX)) {
      votes[participantOf(txid, field, value, VOTE_PREFIX)] = parseField(
        txid,
        field,
        value,
        voteSchema,
      );
    } else if (field.startsWith(ACK_PREFIX)) {
      acks[participantOf(txid, field, value, ACK_PREFIX)] = parseField(
        txid,
        field,
        value,
        numberText,
      );
    } else if (Object.hasOwn(recordFieldsSchema.shape, field)) {
      plain[field] = value;
    } else {
      throw new CorruptRecordError(txid, field, value, "no script writes this field");
    }
  }
  const parsed = recordFieldsSchema.safeParse(plain);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = String(issue?.path[0] ?? "");
    throw new CorruptRecordError(txid, field, plain[field] ?? "", issue?.message ?? "invalid");
  }
  const f = parsed.data;
  if (f.txid !== undefined && f.txid !== txid)
    throw new CorruptRecordError(txid, "txid", f.txid, "is another transaction's id");
  return {
    txid,
    // Such a hash was left by an earlier linkNextAttempt on an expired record.
    state: f.state ?? "preparing",
    participants: f.participants ?? [],
    onePhase: f.onePhase ?? false,
    timeoutMs: f.timeoutMs,
    createdAtMs: f.createdAt,
    deadlineAtMs: f.deadlineAt,
    decision: f.decision,
    reason: f.reason || undefined,
    decidedBy: f.decidedBy,
    decidedAtMs: f.decidedAt,
    endedAtMs: f.endedAt,
    presumed: f.presumed ?? false,
    idempotencyKey: f.idempotencyKey || undefined,
    client: f.client || undefined,
    series: f.series || undefined,
    attempt: f.attempt ?? 1,
    previous: f.previous || undefined,
    next: f.next,
    votes,
    acks,
  };
}
