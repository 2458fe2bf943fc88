/**
 * The byte-level mutator: bit flips, interesting bytes, line surgery,
 * line-ending swaps, boundary numbers, repetition and splicing in another
 * generated request.
 *
 * @module
 */

import { genRequest, HUGE_NUMBERS, recase } from "./grammar.ts";
import type { Random } from "./random.ts";

const INTERESTING_BYTES = [0x0d, 0x0a, 0x00, 0x20, 0x09, 0x7f, 0x0b, 0x0c, 0x3a, 0x3b, 0x2c, 0x22];

function interestingByte(r: Random): string {
  return String.fromCharCode(r.chance(0.7) ? r.pick(INTERESTING_BYTES) : r.between(0x80, 0xff));
}

/** Start offsets of the CRLF-terminated lines of `input`, plus its length. */
function lineStarts(input: string): number[] {
  const starts = [0];
  for (let at = input.indexOf("\n"); at !== -1; at = input.indexOf("\n", at + 1)) {
    starts.push(at + 1);
  }
  if (starts[starts.length - 1] !== input.length) starts.push(input.length);
  return starts;
}

function pickLine(r: Random, input: string): [start: number, end: number] {
  const starts = lineStarts(input);
  if (starts.length < 2) return [0, input.length];
  const i = r.int(starts.length - 1);
  return [starts[i], starts[i + 1]];
}

type Mutation = (r: Random, input: string, port: number) => string;

const MUTATIONS: readonly (readonly [weight: number, name: string, mutate: Mutation])[] = [
  [10, "flip", (r, s) => {
    const at = r.int(s.length);
    return s.slice(0, at) + String.fromCharCode(s.charCodeAt(at) ^ (1 << r.int(8))) +
      s.slice(at + 1);
  }],
  [10, "set", (r, s) => {
    const at = r.int(s.length);
    return s.slice(0, at) + interestingByte(r) + s.slice(at + 1);
  }],
  [12, "insert", (r, s) => {
    const at = r.int(s.length + 1);
    let bytes = "";
    for (let n = r.between(1, 3); n > 0; n--) bytes += interestingByte(r);
    return s.slice(0, at) + bytes + s.slice(at);
  }],
  [6, "delete", (r, s) => {
    const at = r.int(s.length);
    return s.slice(0, at) + s.slice(at + r.between(1, 8));
  }],
  [8, "dup-line", (r, s) => {
    const [start, end] = pickLine(r, s);
    return s.slice(0, end) + s.slice(start, end) + s.slice(end);
  }],
  [6, "drop-line", (r, s) => {
    const [start, end] = pickLine(r, s);
    return s.slice(0, start) + s.slice(end);
  }],
  [4, "swap-lines", (r, s) => {
    const [a0, a1] = pickLine(r, s);
    const [b0, b1] = pickLine(r, s);
    if (a1 > b0) return s;
    return s.slice(0, a0) + s.slice(b0, b1) + s.slice(a1, b0) + s.slice(a0, a1) + s.slice(b1);
  }],
  [10, "line-ending", (r, s) => {
    const ends: number[] = [];
    for (let at = s.indexOf("\r\n"); at !== -1; at = s.indexOf("\r\n", at + 2)) ends.push(at);
    if (ends.length === 0) return s;
    const at = r.pick(ends);
    return s.slice(0, at) + r.pick(["\n", "\r", "\r\r\n", "\n\r", "", "\r\n\r\n", " \r\n"]) +
      s.slice(at + 2);
  }],
  [8, "truncate", (r, s) => s.slice(0, r.int(s.length))],
  [10, "number", (r, s) => {
    const runs = [...s.matchAll(/[0-9a-fA-F]+/g)];
    if (runs.length === 0) return s;
    const run = r.pick(runs);
    const at = run.index ?? 0;
    return s.slice(0, at) + r.pick(HUGE_NUMBERS) + s.slice(at + run[0].length);
  }],
  [3, "repeat", (r, s) => {
    const at = r.int(s.length);
    const piece = s.slice(at, at + r.between(1, 64));
    const times = r.pick([2, 10, 100, 1000]);
    return s.slice(0, at) + piece.repeat(Math.min(times, Math.floor(80_000 / piece.length))) +
      s.slice(at);
  }],
  [2, "long-run", (r, s) => {
    const at = r.int(s.length + 1);
    return s.slice(0, at) +
      r.pick(["a", " ", "\r\n", "0", ";"]).repeat(r.pick([100, 8200, 70_000])) +
      s.slice(at);
  }],
  [3, "case", (r, s) => {
    const at = r.int(s.length);
    const end = at + r.between(1, 20);
    return s.slice(0, at) + recase(r, s.slice(at, end)) + s.slice(end);
  }],
  [5, "splice-request", (r, s, port) => {
    const at = r.int(s.length + 1);
    return s.slice(0, at) + genRequest(r, port) + s.slice(at);
  }],
];

/** Applies one to four mutations to `input`; returns the result and their names. */
export function mutate(r: Random, input: string, port: number): { input: string; names: string[] } {
  const names: string[] = [];
  let out = input;
  for (let n = r.weighted([[50, 1], [30, 2], [15, 3], [5, 4]]); n > 0; n--) {
    const [, name, apply] = r.weighted(MUTATIONS.map((m) => [m[0], m] as const));
    if (out.length === 0) out = genRequest(r, port);
    out = apply(r, out, port);
    names.push(name);
  }
  return { input: out, names };
}
