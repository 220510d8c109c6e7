import { v7 as uuidv7 } from "uuid";

/** A txid is a lowercase UUID. It reaches SQL as part of a gid literal, so nothing else may pass. */
export const TXID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Participant names appear in gids, Redis keys and URLs: a short, plain slug. */
export const PARTICIPANT_NAME_PATTERN = /^[a-z][a-z0-9-]{0,31}$/;

/** UUID v7 sorts by creation time, which keeps listings and indexes in a readable order. */
export function newTxid(): string {
  return uuidv7();
}

/**
 * A new txid that carries the time `ms` instead of now: the attempts of one request after the
 * first keep its age (coordinator/series.ts). Its random bits are fresh, so it is unique.
 */
export function txidAt(ms: number): string {
  return uuidv7({ msecs: ms });
}

/** When a UUID v7 txid was made (its first 48 bits, Unix ms, by the clock of the process that made it). */
export function txidTimeMs(txid: string): number {
  return parseInt(txid.slice(0, 8) + txid.slice(9, 13), 16);
}

export function isTxid(value: unknown): value is string {
  return typeof value === "string" && TXID_PATTERN.test(value);
}

export function isParticipantName(value: unknown): value is string {
  return typeof value === "string" && PARTICIPANT_NAME_PATTERN.test(value);
}

/**
 * The PostgreSQL global transaction id. gids are unique per server, not per database, so two
 * participants sharing a server must not collide: the participant name is part of the gid.
 * The gid is spliced into SQL as a literal (PREPARE TRANSACTION takes no parameters), so both
 * parts are checked against their strict patterns here, at the only place a gid is built.
 */
export function gidFor(participant: string, txid: string): string {
  if (!isParticipantName(participant))
    throw new Error(`invalid participant name for gid: ${JSON.stringify(participant)}`);
  if (!isTxid(txid)) throw new Error(`invalid txid for gid: ${JSON.stringify(txid)}`);
  return `concord:${participant}:${txid}`;
}
