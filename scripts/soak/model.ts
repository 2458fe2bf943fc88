/**
 * What the soak test wrote, and what may therefore be on disk: self-describing
 * upload bodies, a ledger of every PUT and MOVE with its outcome, and the
 * judge that checks files (and GET responses) against it.
 *
 * The model: concurrent writes to the same few names make the final content
 * of a name unpredictable, so the check is the one that stays sound. A file
 * must hold exactly one whole body that was PUT to its name, or to a name
 * from which a MOVE (not refused) could have carried it there, by an upload
 * the server did not refuse and whose body was sent in full. Each body names
 * its upload and carries the SHA-256 of its payload, so a torn, mixed or
 * truncated file is recognised without knowing the order of events.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { pseudoRandomBytes } from "./prng.ts";

/**
 * Where an upload stands:
 * - `sending`: the body is being sent in full, no answer yet;
 * - `partial`: only part of the body was ever sent (the soak cut it short on purpose);
 * - `acked`: answered 201 or 204;
 * - `refused`: answered with another status: it must never reach the disk;
 * - `unanswered`: sent in full but no answer came (a timeout or a reset): it may or may not have landed.
 */
export type PutState = "sending" | "partial" | "acked" | "refused" | "unanswered";

/** One PUT the soak sent. */
export interface PutRecord {
  /** Its number, also written in its body. */
  readonly id: number;
  /** The target name, relative to ROOT. */
  readonly name: string;
  /** Where it stands. */
  state: PutState;
  /** The answer's status, when one came. */
  status: number | null;
}

/** Where a MOVE stands (as for {@linkcode PutState}: `refused` ones moved nothing). */
export type MoveState = "sending" | "acked" | "refused" | "unanswered";

/** One MOVE the soak sent. */
export interface MoveRecord {
  /** Source name. */
  readonly from: string;
  /** Destination name. */
  readonly to: string;
  /** Where it stands. */
  state: MoveState;
}

const encoder = new TextEncoder();
const latin1 = new TextDecoder("latin1");
const HEADER = /^filedrop-soak put=(\d+) name=(\S+) len=(\d+) sha256=([0-9a-f]{64})\n/;

/**
 * A body that describes itself: a header line with the upload's number,
 * its target name, and the length and SHA-256 of the pseudo-random payload
 * that follows.
 */
export function makeBody(id: number, name: string, payloadBytes: number, seed: number): Uint8Array {
  const payload = pseudoRandomBytes(payloadBytes, seed ^ Math.imul(id, 0x9e3779b1));
  const sha = createHash("sha256").update(payload).digest("hex");
  const header = encoder.encode(
    `filedrop-soak put=${id} name=${name} len=${payloadBytes} sha256=${sha}\n`,
  );
  const body = new Uint8Array(header.length + payloadBytes);
  body.set(header);
  body.set(payload, header.length);
  return body;
}

/** The upload a body belongs to, or why the bytes are not one whole soak body. */
export function parseBody(bytes: Uint8Array): { id: number; name: string } | { error: string } {
  const headerText = latin1.decode(bytes.subarray(0, 200));
  const match = HEADER.exec(headerText);
  if (match === null) {
    return { error: `not a soak body (starts ${JSON.stringify(headerText.slice(0, 40))})` };
  }
  const headerBytes = match[0].length;
  const length = Number(match[3]);
  if (bytes.length !== headerBytes + length) {
    return {
      error: `body of put ${match[1]} is ${bytes.length - headerBytes} bytes, not ${length}`,
    };
  }
  const sha = createHash("sha256").update(bytes.subarray(headerBytes)).digest("hex");
  if (sha !== match[4]) {
    return { error: `body of put ${match[1]} has other bytes than it was sent with` };
  }
  return { id: Number(match[1]), name: match[2] };
}

/** Every PUT and MOVE the soak sent, with its outcome. */
export class Ledger {
  readonly #puts = new Map<number, PutRecord>();
  readonly #moves: MoveRecord[] = [];
  #nextId = 1;

  /** Records a new PUT to `name` and returns its record (state `sending`, or `partial`). */
  addPut(name: string, partial: boolean): PutRecord {
    const record: PutRecord = {
      id: this.#nextId++,
      name,
      state: partial ? "partial" : "sending",
      status: null,
    };
    this.#puts.set(record.id, record);
    return record;
  }

  /** Records a MOVE as it is sent: from then on its destination may hold the source's content. */
  addMove(from: string, to: string): MoveRecord {
    const record: MoveRecord = { from, to, state: "sending" };
    this.#moves.push(record);
    return record;
  }

  /** The PUTs, by state. */
  putCounts(): Record<PutState, number> {
    const counts: Record<PutState, number> = {
      sending: 0,
      partial: 0,
      acked: 0,
      refused: 0,
      unanswered: 0,
    };
    for (const put of this.#puts.values()) counts[put.state]++;
    return counts;
  }

  /** The MOVEs, by state. */
  moveCounts(): Record<MoveState, number> {
    const counts: Record<MoveState, number> = { sending: 0, acked: 0, refused: 0, unanswered: 0 };
    for (const move of this.#moves) counts[move.state]++;
    return counts;
  }

  /**
   * `name` and every name whose content a chain of MOVEs not refused could
   * have carried to `name`. Order is ignored: that only makes the set larger,
   * so the check stays sound.
   */
  sourcesOf(name: string): Set<string> {
    const sources = new Set([name]);
    const pending = [name];
    while (pending.length > 0) {
      const target = pending.pop()!;
      for (const move of this.#moves) {
        if (move.to === target && move.state !== "refused" && !sources.has(move.from)) {
          sources.add(move.from);
          pending.push(move.from);
        }
      }
    }
    return sources;
  }

  /**
   * Why `bytes`, found at `name` (on disk or in a 200 response), cannot be
   * there; null when the model allows it. `landedUnanswered` is called for a
   * body whose upload got no answer (allowed: it may have landed).
   */
  explain(
    name: string,
    bytes: Uint8Array,
    landedUnanswered: (put: PutRecord) => void = () => {},
  ): string | null {
    const parsed = parseBody(bytes);
    if ("error" in parsed) return `${name}: ${parsed.error}`;
    const put = this.#puts.get(parsed.id);
    if (put === undefined || put.name !== parsed.name) {
      return `${name}: body of put ${parsed.id}, never sent`;
    }
    if (put.state === "partial") {
      return `${name}: body of put ${put.id}, whose upload was cut short`;
    }
    if (put.state === "refused") {
      return `${name}: body of put ${put.id}, refused with ${put.status}`;
    }
    if (!this.sourcesOf(name).has(put.name)) {
      return `${name}: body of put ${put.id} to ${put.name}, and no MOVE leads from there to here`;
    }
    if (put.state === "unanswered") landedUnanswered(put);
    return null;
  }
}
