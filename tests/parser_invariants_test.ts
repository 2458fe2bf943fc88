/**
 * Invariants of the sans-IO parser, asserted on the parser itself over tens
 * of thousands of generated, mutated and random inputs, each fed whole and in
 * random splits: it throws nothing but {@linkcode HttpError}; it never takes
 * more than it was given nor reads past the received bytes; every call makes
 * progress or waits; and the outcome does not depend on how the bytes were
 * split.
 *
 * @module
 */

import assert from "node:assert/strict";
import { ChunkedDecoder, END, LengthDecoder, NEED_MORE } from "../lib/http/body_decoders.ts";
import type { BodyDecoder, ChunkedLimits } from "../lib/http/body_decoders.ts";
import { HttpError } from "../lib/http/errors.ts";
import { interpretHead } from "../lib/http/framing.ts";
import { HeadParser } from "../lib/http/head_parser.ts";
import type { HeadLimits, RequestHead } from "../lib/http/head_parser.ts";
import { ReceiveBuffer } from "../lib/http/receive_buffer.ts";
import { escapeBinary, toBinary, toBytes } from "../scripts/fuzz/bytes.ts";
import { generateInput, splitAt, splitPoints } from "../scripts/fuzz/generate.ts";
import { genChunkedBody, randomBinary } from "../scripts/fuzz/grammar.ts";
import { mutate } from "../scripts/fuzz/mutate.ts";
import { Random } from "../scripts/fuzz/random.ts";

/** Limits small enough that generated inputs cross them often, and the server's defaults. */
const LIMIT_SETS: { head: HeadLimits; chunked: ChunkedLimits }[] = [
  {
    head: { maxRequestLineBytes: 64, maxHeadBytes: 256, maxHeaderCount: 6 },
    chunked: { maxLineBytes: 16, maxTrailerBytes: 48, maxTrailerCount: 2 },
  },
  {
    head: { maxRequestLineBytes: 8192, maxHeadBytes: 65536, maxHeaderCount: 100 },
    chunked: { maxLineBytes: 4096, maxTrailerBytes: 16384, maxTrailerCount: 100 },
  },
];

/** Bytes written just past the received ones: a parser that reads them changes its outcome. */
const POISONS = [0x0a, 0x0d, 0x00, 0x20, 0x30, 0x3a];
const POISON_WINDOW = 64;

/** Copies `piece` in as a socket read would, then poisons the bytes just past the end. */
function receive(rb: ReceiveBuffer, piece: Uint8Array, poison: number): void {
  let offset = 0;
  while (offset < piece.length) {
    const space = rb.writable(piece.length - offset);
    assert.ok(space.length > 0, "receive buffer full");
    const n = Math.min(space.length, piece.length - offset);
    space.set(piece.subarray(offset, offset + n));
    rb.commit(n);
    offset += n;
  }
  rb.data.fill(poison, rb.end, Math.min(rb.data.length, rb.end + POISON_WINDOW));
}

function assertSane(rb: ReceiveBuffer, fed: number, consumedBefore: number): number {
  assert.ok(0 <= rb.start && rb.start <= rb.end && rb.end <= rb.data.length, "buffer bounds");
  const consumed = fed - rb.length;
  assert.ok(consumed >= consumedBefore, "bytes un-consumed");
  assert.ok(consumed <= fed, "consumed more than fed");
  return consumed;
}

function describeHead(head: RequestHead): string {
  const { headers, ...rest } = head;
  return JSON.stringify({ ...rest, headers: [...headers] });
}

function statusOf(error: unknown): number {
  if (!(error instanceof HttpError)) throw error;
  assert.ok(error.status >= 400 && error.status <= 599, `status ${error.status}`);
  return error.status;
}

/**
 * What happened to a stream: heads, framings, decoded bodies, errors, and
 * what was left unconsumed at the end. Equal for every split of one input.
 */
type Trace = string[];

/**
 * A step of the connection's read loop; returns an event, "wait" when more
 * bytes are needed, or "stop" once the stream is over (an error was raised).
 */
type Stepper = (rb: ReceiveBuffer) => string | "wait" | "stop";

/** The request side of a connection: heads, framing, bodies, then the next head. */
function requestStepper(limits: (typeof LIMIT_SETS)[number]): Stepper {
  const parser = new HeadParser(limits.head);
  let decoder: BodyDecoder | null = null;
  let body = "";
  let stopped = false;
  return (rb) => {
    if (stopped) return "stop";
    if (decoder === null) {
      let head;
      try {
        head = parser.parse(rb);
      } catch (error) {
        stopped = true;
        return `head error ${statusOf(error)}`;
      }
      if (head === null) return "wait";
      let framing;
      try {
        framing = interpretHead(head);
      } catch (error) {
        stopped = true;
        return `head ${describeHead(head)} rejected ${statusOf(error)}`;
      }
      if (framing.body.kind === "length") decoder = new LengthDecoder(framing.body.length);
      if (framing.body.kind === "chunked") decoder = new ChunkedDecoder(limits.chunked);
      return `head ${describeHead(head)} framing ${JSON.stringify(framing)}`;
    }
    const step = decodeStep(decoder, rb);
    if (step === "wait") return step;
    if (step === END) {
      decoder = null;
      const event = `body ${JSON.stringify(body)}`;
      body = "";
      return event;
    }
    if (typeof step === "number") {
      stopped = true;
      return `body error ${step}`;
    }
    body += step;
    return "data";
  };
}

/** A chunked body alone. */
function chunkedStepper(limits: ChunkedLimits): Stepper {
  const decoder = new ChunkedDecoder(limits);
  let body = "";
  let done = false;
  return (rb) => {
    if (done) return "stop";
    const step = decodeStep(decoder, rb);
    if (step === "wait") return step;
    done = true;
    if (step === END) return `body ${JSON.stringify(body)}`;
    if (typeof step === "number") return `body error ${step}`;
    done = false;
    body += step;
    return "data";
  };
}

/**
 * One decoder call, checked: a data view is non-empty and lies inside the
 * received bytes; END stays END. Returns the data as a byte string, END,
 * "wait", or an error status.
 */
function decodeStep(
  decoder: BodyDecoder,
  rb: ReceiveBuffer,
): string | typeof END | "wait" | number {
  const start = rb.start;
  const end = rb.end;
  let step;
  try {
    step = decoder.next(rb);
  } catch (error) {
    return statusOf(error);
  }
  if (step === NEED_MORE) return "wait";
  if (step === END) {
    assert.equal(decoder.next(rb), END, "END is final");
    return END;
  }
  assert.ok(step.length > 0, "an empty data view (a caller would loop)");
  assert.equal(step.buffer, rb.data.buffer, "a data view outside the receive buffer");
  assert.ok(step.byteOffset >= start && step.byteOffset + step.length <= end, "data past the end");
  return toBinary(step);
}

/**
 * Feeds `pieces` one at a time, stepping until each wait; checks every
 * call's effect on the buffer and bounds the steps. Data steps are merged,
 * so the trace does not depend on where the pieces were cut.
 */
function drive(
  stepper: Stepper,
  pieces: Uint8Array[],
  random: Random,
): { trace: Trace; unconsumed: number } {
  const rb = new ReceiveBuffer(random.pick([1, 7, 64, 4096]), 1 << 22);
  const poison = random.pick(POISONS);
  const trace: Trace = [];
  let fed = 0;
  let consumed = 0;
  let steps = 0;
  let stopped = false;
  for (const piece of pieces) {
    receive(rb, piece, poison);
    fed += piece.length;
    while (!stopped) {
      // Each step consumes a byte or reports an event; a stream of n bytes has at most ~n events.
      assert.ok(++steps <= 4 * fed + 4 * pieces.length + 16, "no progress");
      const before = rb.length;
      const event = stepper(rb);
      consumed = assertSane(rb, fed, consumed);
      if (event === "stop") stopped = true;
      else if (event === "wait") {
        // Asking again with nothing new changes nothing.
        const length = rb.length;
        assert.equal(stepper(rb), "wait", "a second call without new bytes did not wait");
        assert.equal(rb.length, length, "a second call without new bytes consumed some");
        break;
      } else if (event === "data") {
        assert.ok(rb.length < before, "data without consuming");
      } else trace.push(event);
    }
    if (stopped) break;
  }
  // Once stopped, what is left depends on how much had arrived when the error came.
  trace.push(stopped ? "stopped" : `waiting with ${rb.length} unconsumed`);
  return { trace, unconsumed: rb.length };
}

/** Past this size an input is tried in one split besides the whole, to keep the run short. */
const LARGE_INPUT = 16 * 1024;

/** The splits of an input tried besides the whole: random cuts and, for short inputs, every byte. */
function splitsOf(random: Random, bytes: Uint8Array): Uint8Array[][] {
  const splits = [splitAt(bytes, splitPoints(random, bytes.length))];
  if (bytes.length > LARGE_INPUT) return splits;
  if (bytes.length <= 512 && random.chance(0.2)) {
    splits.push(splitAt(bytes, Array.from({ length: bytes.length - 1 }, (_, i) => i + 1)));
  } else {
    splits.push(splitAt(bytes, splitPoints(random, bytes.length)));
  }
  return splits;
}

function sameOutcome(a: Trace, b: Trace): boolean {
  return a.length === b.length &&
    a.every((event, i) => event === b[i]);
}

function checkSplits(
  label: string,
  bytes: Uint8Array,
  makeStepper: () => Stepper,
  random: Random,
): { trace: Trace; unconsumed: number } {
  const reference = drive(makeStepper(), [bytes], random);
  for (const pieces of splitsOf(random, bytes)) {
    const { trace } = drive(makeStepper(), pieces, random);
    if (sameOutcome(trace, reference.trace)) continue;
    assert.deepEqual(
      trace,
      reference.trace,
      `${label}: split ${pieces.map((p) => p.length).join("+")} differs; input ${
        escapeBinary(toBinary(bytes), 400)
      }`,
    );
  }
  return reference;
}

const REQUEST_INPUTS = 20_000;

Deno.test(`parser invariants: ${REQUEST_INPUTS} request streams, whole and split`, () => {
  const random = new Random(0x5eed);
  const outcomes = new Map<string, number>();
  for (let i = 0; i < REQUEST_INPUTS; i++) {
    const input = generateInput(random, 8080);
    const limits = random.pick(LIMIT_SETS);
    let trace: Trace;
    try {
      ({ trace } = checkSplits(
        `input ${i} (${input.kind})`,
        input.bytes,
        () => requestStepper(limits),
        random,
      ));
    } catch (error) {
      if (error instanceof assert.AssertionError) throw error;
      throw new Error(`input ${i}: ${error}; input ${escapeBinary(toBinary(input.bytes), 400)}`);
    }
    for (const event of trace) {
      const kind = event.replace(/^head \{.*\} (framing|rejected).*$/, "head $1").replace(
        /^body ".*"$/s,
        "body",
      );
      outcomes.set(kind, (outcomes.get(kind) ?? 0) + 1);
    }
  }
  // The inputs must reach every outcome, or the run proves little.
  for (const kind of ["head framing", "head rejected", "body", "head error 400", "stopped"]) {
    assert.ok(outcomes.has(kind), `never saw ${kind}: ${[...outcomes.keys()]}`);
  }
});

const CHUNKED_INPUTS = 10_000;
const WIDE_CHUNKED: ChunkedLimits = {
  maxLineBytes: 1 << 16,
  maxTrailerBytes: 1 << 16,
  maxTrailerCount: 100,
};

Deno.test(`parser invariants: ${CHUNKED_INPUTS} chunked bodies decode the same in any split`, () => {
  const random = new Random(0xc4c4);
  let decodedExactly = 0;
  for (let i = 0; i < CHUNKED_INPUTS; i++) {
    const data = randomBinary(random, random.between(0, 300));
    const shape = random.weighted(
      [[40, "valid"], [30, "broken"], [25, "mutated"], [5, "random"]] as const,
    );
    let body = genChunkedBody(random, data, shape === "broken");
    if (shape === "mutated") body = mutate(random, body, 8080).input;
    if (shape === "random") body = toBinary(toBytes(data));
    const limits = shape === "valid" ? WIDE_CHUNKED : random.pick(LIMIT_SETS).chunked;
    const { trace, unconsumed } = checkSplits(
      `chunked ${i} (${shape})`,
      toBytes(body),
      () => chunkedStepper(limits),
      random,
    );
    if (shape === "valid") {
      // A well-formed body decodes to exactly its data, all of it consumed.
      assert.deepEqual(trace, [`body ${JSON.stringify(data)}`, "stopped"], `chunked ${i}`);
      assert.equal(unconsumed, 0, `chunked ${i}: bytes left after the body`);
      decodedExactly++;
    }
  }
  assert.ok(decodedExactly > CHUNKED_INPUTS / 4);
});
