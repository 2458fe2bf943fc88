/**
 * Inputs and cases: one input from any generator, and how it goes over the
 * wire (split into writes, paused, half-closed), all drawn from
 * `(seed, index)`.
 *
 * @module
 */

import { toBytes } from "./bytes.ts";
import { genPipeline, genRandomBytes, genSmuggle, genTokens } from "./grammar.ts";
import { mutate } from "./mutate.ts";
import { caseSeed, Random } from "./random.ts";

/** One generated input: its bytes and how it was made. */
export interface FuzzInput {
  /** The bytes to send. */
  bytes: Uint8Array;
  /** "grammar", "mutated: flip+truncate", "smuggle", "tokens" or "random". */
  kind: string;
}

/** One input from any of the generators, drawn from `r`; `port` goes into Host and URLs. */
export function generateInput(r: Random, port: number): FuzzInput {
  const kind = r.weighted(
    [
      [40, "grammar"],
      [45, "mutated"],
      [5, "smuggle"],
      [5, "tokens"],
      [5, "random"],
    ] as const,
  );
  switch (kind) {
    case "grammar":
      return { bytes: toBytes(genPipeline(r, port)), kind };
    case "mutated": {
      const base = r.chance(0.1) ? genSmuggle(r) : genPipeline(r, port);
      const mutated = mutate(r, base, port);
      return { bytes: toBytes(mutated.input), kind: `mutated: ${mutated.names.join("+")}` };
    }
    case "smuggle":
      return { bytes: toBytes(genSmuggle(r)), kind };
    case "tokens":
      return { bytes: toBytes(genTokens(r)), kind };
    case "random":
      return { bytes: toBytes(genRandomBytes(r)), kind };
  }
}

/** Cut points of `length` bytes into pieces: none, a few at random, or many tiny ones. */
export function splitPoints(r: Random, length: number): number[] {
  if (length < 2) return [];
  const style = r.weighted([[50, "whole"], [38, "few"], [7, "many"], [5, "bytes"]] as const);
  if (style === "whole") return [];
  const count = style === "few"
    ? r.between(1, 4)
    : style === "many"
    ? r.between(5, 30)
    : Math.min(length - 1, 300);
  const cuts = new Set<number>();
  if (style === "bytes") { for (let i = 1; i <= count; i++) cuts.add(i); }
  else for (let i = 0; i < count; i++) cuts.add(r.between(1, length - 1));
  return [...cuts].sort((a, b) => a - b);
}

/** Splits `bytes` at ascending `cuts`. */
export function splitAt(bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  const pieces: Uint8Array[] = [];
  let from = 0;
  for (const cut of cuts) {
    pieces.push(bytes.subarray(from, cut));
    from = cut;
  }
  pieces.push(bytes.subarray(from));
  return pieces;
}

/** One input and how it goes over the wire. */
export interface FuzzCase extends FuzzInput {
  /** The case number within its run. */
  index: number;
  /** The writes, in order; together they are `bytes`. */
  pieces: Uint8Array[];
  /** Pause between writes (ms), so the server reads them separately. */
  pauseMs: number;
  /**
   * Half-close after the last write, so that the server sees the end at once;
   * otherwise the server's timeouts must end the connection.
   */
  closeWrite: boolean;
}

/** Case number `index` of the run seeded with `seed`. */
export function generateCase(seed: number, index: number, port: number): FuzzCase {
  const r = new Random(caseSeed(seed, index));
  const input = generateInput(r, port);
  const pieces = splitAt(input.bytes, splitPoints(r, input.bytes.length));
  return {
    ...input,
    index,
    pieces,
    pauseMs: pieces.length > 1 && pieces.length < 10 && r.chance(0.05) ? r.between(1, 3) : 0,
    closeWrite: r.chance(0.9),
  };
}
