/**
 * Who the other services are: for the coordinator, its participants; for a participant, its
 * peers. Each entry is a name with its URL and the secret shared with it. The entries come from
 * the environment (fixed for the life of the process) or from a JSON file that is read again
 * when it changes, so participants are added and removed while everything runs.
 *
 * Why a file and not a registry in the coordinator's log: the secrets of a pair must reach both
 * services of the pair, and a file (a mounted secret, as orchestrators update in place) puts
 * them there without ever sending a secret over the network; each service's file holds only its
 * own pairs' secrets, as the environment does.
 *
 * A participant removed from the file can no longer be named in a new transaction, and it can no
 * longer sign requests to us; the coordinator still reaches it (URL and signing secret) for the
 * transactions it is already in, until the process restarts.
 */
import { readFileSync, statSync, unwatchFile, watchFile } from "node:fs";
import { z } from "zod";
import { httpUrl, participantName, secret } from "./config.js";
import type { Logger } from "./logger.js";

export interface DirectoryEntry {
  url: string;
  secret: string;
}

const entrySchema = z
  .object({ url: httpUrl.transform((u) => u.replace(/\/+$/, "")), secret })
  .strict();
const entriesSchema = z.record(z.string(), entrySchema).superRefine((entries, ctx) => {
  for (const name of Object.keys(entries))
    if (!participantName(name))
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        path: [name],
        message: `${JSON.stringify(name)} is not a participant name (^[a-z][a-z0-9-]{0,31}$, not "coordinator")`,
      });
});

/** The file's top-level key: `participants` for the coordinator, `peers` for a participant. */
export type DirectoryKind = "participants" | "peers";

/** Reads and checks a directory file; the error names the file and the field, never a secret. */
export function readDirectoryFile(path: string, kind: DirectoryKind): Map<string, DirectoryEntry> {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, "utf8")) as unknown;
  } catch (err) {
    throw new Error(`${path}: not readable JSON (${(err as Error).message})`, { cause: err });
  }
  const parsed = z
    .object({ [kind]: entriesSchema })
    .strict()
    .safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`${path}: ${issue?.path.join(".") ?? ""}: ${issue?.message ?? "invalid"}`);
  }
  const entries = parsed.data[kind] as Record<string, DirectoryEntry>;
  return new Map(Object.entries(entries));
}

export class ParticipantDirectory {
  private entries: Map<string, DirectoryEntry>;
  private readonly retired = new Map<string, DirectoryEntry>();
  /**
   * The secrets of the current entries, one Map kept up to date in place: handed to the
   * Authenticator, which reads it at each request.
   */
  readonly secrets = new Map<string, string>();
  /** The URLs of the current entries, kept up to date in place like `secrets`. */
  readonly urls = new Map<string, string>();
  private watched: string | undefined;

  constructor(initial: ReadonlyMap<string, DirectoryEntry>) {
    this.entries = new Map(initial);
    this.syncSecrets();
  }

  /** From the environment's `name=url` and `name=secret` lists (already checked to agree). */
  static fromMaps(
    urls: ReadonlyMap<string, string> | undefined,
    secrets: ReadonlyMap<string, string> | undefined,
  ): ParticipantDirectory {
    const entries = new Map<string, DirectoryEntry>();
    for (const [name, url] of urls ?? [])
      entries.set(name, { url, secret: secrets?.get(name) ?? "" });
    return new ParticipantDirectory(entries);
  }

  /**
   * From a file, read again whenever it changes (polled every `pollMs`: inotify does not see
   * every bind mount or atomic rename). A file that stops parsing is logged and the entries
   * before it stay.
   */
  static watching(
    path: string,
    kind: DirectoryKind,
    logger: Logger,
    pollMs = 1000,
  ): ParticipantDirectory {
    const directory = new ParticipantDirectory(readDirectoryFile(path, kind));
    directory.watched = path;
    watchFile(path, { interval: pollMs, persistent: false }, () => {
      directory.reload(path, kind, logger);
    });
    return directory;
  }

  stop(): void {
    if (this.watched !== undefined) unwatchFile(this.watched);
  }

  private reload(path: string, kind: DirectoryKind, logger: Logger): void {
    let next: Map<string, DirectoryEntry>;
    try {
      statSync(path);
      next = readDirectoryFile(path, kind);
    } catch (err) {
      logger.error(
        { err: (err as Error).message },
        `${kind} file not reloaded; keeping the entries before`,
      );
      return;
    }
    const change = this.replace(next);
    logger.info(change, `${kind} file reloaded`);
  }

  /** Puts `next` in place; returns who was added, removed or changed. */
  replace(next: ReadonlyMap<string, DirectoryEntry>): {
    added: string[];
    removed: string[];
    changed: string[];
  } {
    const before = this.entries;
    const added = [...next.keys()].filter((n) => !before.has(n));
    const removed = [...before.keys()].filter((n) => !next.has(n));
    const changed = [...next].filter(([n, e]) => {
      const old = before.get(n);
      return old !== undefined && (old.url !== e.url || old.secret !== e.secret);
    });
    for (const name of removed) {
      const entry = before.get(name);
      if (entry) this.retired.set(name, entry);
    }
    for (const name of next.keys()) this.retired.delete(name);
    this.entries = new Map(next);
    this.syncSecrets();
    return { added, removed, changed: changed.map(([n]) => n) };
  }

  private syncSecrets(): void {
    this.secrets.clear();
    this.urls.clear();
    for (const [name, e] of this.entries) {
      this.secrets.set(name, e.secret);
      this.urls.set(name, e.url);
    }
  }

  /** The entries now: whom a new transaction may name, whom to ask. */
  current(): ReadonlyMap<string, DirectoryEntry> {
    return this.entries;
  }

  /** A current entry, or a removed one (to finish the transactions it is in). */
  find(name: string): DirectoryEntry | undefined {
    return this.entries.get(name) ?? this.retired.get(name);
  }
}
