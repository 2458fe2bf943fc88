/**
 * The soak test's clients: 50 concurrent connections' worth of mixed
 * traffic (reads, ranges, conditional requests, uploads, deletes, moves of
 * the same few names) interleaved with abuse: resets, half-closes, slow
 * readers, slowloris heads and reset storms. Every response is checked as it
 * arrives; every upload and move is entered in the {@linkcode Ledger}.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { createPrng } from "./prng.ts";
import { makeBody } from "./model.ts";
import type { Ledger } from "./model.ts";
import {
  EarlyCloseError,
  indexOfBytes,
  parseByteRanges,
  parseContentRange,
  ProtocolError,
  RawClient,
  TimeoutError,
} from "./reader.ts";
import type { RawResponse } from "./reader.ts";
import type { ResetHelper } from "./rst_helper.ts";

/**
 * How long a request may go unanswered (and a connect take) before it counts
 * as failed: far beyond any honest latency here, so only a deaf or hung
 * server reaches it.
 */
export const REQUEST_TIMEOUT_MS = 10_000;
/** The server's header timeout (lib/server/limits.ts DEFAULT_LIMITS.headerTimeoutMs); slowloris heads are timed against it. */
export const HEADER_TIMEOUT_MS = 10_000;
/** How long each short slow-reader session reads. */
export const SLOW_READ_MS = 20_000;

/** Counts by key. */
export class Counter {
  /** The counts. */
  readonly counts = new Map<string, number>();

  /** Adds `n` to `key`. */
  add(key: string, n = 1): void {
    this.counts.set(key, (this.counts.get(key) ?? 0) + n);
  }

  /** The sum of all counts. */
  get total(): number {
    let sum = 0;
    for (const n of this.counts.values()) sum += n;
    return sum;
  }

  /** `key n, key n, ...`, keys sorted. */
  toString(): string {
    return [...this.counts].sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, n]) => `${k} ${n}`).join(
      ", ",
    );
  }
}

/** Everything the clients counted and found. */
export class Stats {
  /** Requests sent, by kind. */
  readonly requests = new Counter();
  /** Response statuses, by request kind. */
  readonly statuses = new Map<string, Counter>();
  /** Statuses of all responses. */
  readonly allStatuses = new Counter();
  /** Failures (no complete response), by `kind: error`. */
  readonly errors = new Counter();
  /** Abuse scenarios run, by kind. */
  readonly scenarios = new Counter();
  /** Milliseconds from sending to a complete response, of every normal request. */
  readonly latenciesMs: number[] = [];
  /** The first violations found (all are counted in {@linkcode violationCount}). */
  readonly violations: string[] = [];
  /** Observations that are not failures, counted. */
  readonly notes = new Counter();
  /** How many violations were found. */
  violationCount = 0;
  /** Connections the reset helper opened and reset. */
  stormResets = 0;
  /** Connections the reset helper could not open. */
  stormConnectFailures = 0;
  /** Body bytes the slow readers received. */
  slowReadBytes = 0;

  /** Violations by kind: the message with names, quoted text and measurements blanked. */
  readonly violationKinds = new Counter();

  /** Records a violation. */
  violate(message: string): void {
    this.violationCount++;
    if (this.violations.length < 40) this.violations.push(message);
    this.violationKinds.add(
      message.replace(/\/(d\/)?w\d\b/g, "/NAME").replace(/"[^"]*"/g, '"..."')
        .replace(/\d+( ms| bytes)/g, "N$1"),
    );
  }

  /** Records a status for a request kind. */
  status(kind: string, status: number): void {
    let counter = this.statuses.get(kind);
    if (counter === undefined) this.statuses.set(kind, counter = new Counter());
    counter.add(String(status));
    this.allStatuses.add(String(status));
  }
}

/** A file the soak never writes: its bytes and validators are known exactly. */
export interface StaticFile {
  /** URL path, e.g. `/s`. */
  path: string;
  /** Its content. */
  bytes: Uint8Array;
  /** Its ETag as the server sends it. */
  etag: string;
  /** Its Last-Modified as the server sends it. */
  lastModified: string;
}

/** What all clients share. */
export interface World {
  /** The server's port. */
  port: number;
  /** Every upload and move sent. */
  ledger: Ledger;
  /** Counts and findings. */
  stats: Stats;
  /** The read-only files: `/s` (small), `/m` (medium), `/big` (large). */
  statics: { s: StaticFile; m: StaticFile; big: StaticFile };
  /** The names uploads, deletes and moves fight over, relative to ROOT. */
  names: readonly string[];
  /** The last ETag seen for each name. */
  etags: Map<string, string>;
  /** Seed of the bodies' payloads. */
  seed: number;
}

/** A seeded source of choices (one per worker, so a run's plan follows from its seed). */
export class Random {
  readonly #next: () => number;

  /** @param seed any 32-bit integer */
  constructor(seed: number) {
    this.#next = createPrng(seed);
  }

  /** An integer in [lo, hi]. */
  int(lo: number, hi: number): number {
    return lo + Math.floor((this.#next() / 2 ** 32) * (hi - lo + 1));
  }

  /** True with probability `p`. */
  chance(p: number): boolean {
    return this.#next() / 2 ** 32 < p;
  }

  /** One element of `items`. */
  pick<T>(items: readonly T[]): T {
    return items[this.int(0, items.length - 1)];
  }

  /** One value of `[value, weight]` pairs, by weight. */
  weighted<T>(choices: readonly (readonly [T, number])[]): T {
    let total = 0;
    for (const [, weight] of choices) total += weight;
    let at = (this.#next() / 2 ** 32) * total;
    for (const [value, weight] of choices) {
      if ((at -= weight) < 0) return value;
    }
    return choices[choices.length - 1][0];
  }
}

const encoder = new TextEncoder();
const latin1 = new TextDecoder("latin1");
const CRLFCRLF = encoder.encode("\r\n\r\n");

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** A short name for a client-side failure. */
export function describeError(error: unknown): string {
  if (error instanceof TimeoutError) return "timeout";
  if (error instanceof EarlyCloseError) return "closed early";
  if (error instanceof ProtocolError) return "malformed response";
  if (error instanceof Deno.errors.ConnectionReset) return "reset";
  if (error instanceof Deno.errors.BrokenPipe) return "broken pipe";
  if (error instanceof Deno.errors.ConnectionRefused) return "refused";
  return error instanceof Error ? error.name : String(error);
}

function errorText(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

// --- Requests ------------------------------------------------------------------------

/** One request and what its answer must be. */
interface Exchange {
  /** Its kind, for the figures. */
  kind: string;
  method: string;
  target: string;
  /** Extra header lines. */
  headers?: string[];
  body?: Uint8Array;
  /** Send the body chunked, in this many chunks. */
  chunks?: number;
  /** The statuses it may get (besides 503, which the connection limit may give anything). */
  expect: readonly number[];
  /** A problem with the response; null when it is right. */
  check?: (response: RawResponse) => string | null;
  /** Enters the outcome in the ledger; `null` when no answer came. */
  settle?: (response: RawResponse | null) => void;
}

function requestHead(world: World, exchange: Exchange): string {
  const lines = [`${exchange.method} ${exchange.target} HTTP/1.1`, `Host: 127.0.0.1:${world.port}`];
  lines.push(...(exchange.headers ?? []));
  if (exchange.body !== undefined) {
    lines.push(
      exchange.chunks === undefined
        ? `Content-Length: ${exchange.body.length}`
        : "Transfer-Encoding: chunked",
    );
  }
  return lines.join("\r\n") + "\r\n\r\n";
}

/** The body as sent: as is, or framed in `chunks` chunks. */
function framedBody(body: Uint8Array, chunks: number | undefined): Uint8Array {
  if (chunks === undefined) return body;
  const parts: Uint8Array[] = [];
  const size = Math.max(1, Math.ceil(body.length / chunks));
  for (let at = 0; at < body.length; at += size) {
    const piece = body.subarray(at, at + size);
    parts.push(encoder.encode(`${piece.length.toString(16)}\r\n`), piece, encoder.encode("\r\n"));
  }
  parts.push(encoder.encode("0\r\n\r\n"));
  return concat(...parts);
}

function serialize(world: World, exchange: Exchange): Uint8Array {
  const head = encoder.encode(requestHead(world, exchange));
  return exchange.body === undefined
    ? head
    : concat(head, framedBody(exchange.body, exchange.chunks));
}

/** Counts a response and checks its status and content. */
function judge(world: World, exchange: Exchange, response: RawResponse): void {
  const { stats } = world;
  stats.status(exchange.kind, response.status);
  const where = `${exchange.method} ${exchange.target} (${exchange.kind})`;
  if (response.status >= 500 && response.status !== 503) {
    const text = latin1.decode(response.body.subarray(0, 80)).trim();
    stats.violate(`${where}: ${response.status} ${JSON.stringify(text)}`);
  } else if (response.status !== 503 && !exchange.expect.includes(response.status)) {
    const text = latin1.decode(response.body.subarray(0, 80)).trim();
    stats.violate(
      `${where}: status ${response.status}, expected ${exchange.expect.join("/")} ${
        JSON.stringify(text)
      }`,
    );
  } else if (response.status !== 503) {
    const problem = exchange.check?.(response) ?? null;
    if (problem !== null) stats.violate(`${where}: ${problem}`);
  }
}

/**
 * Sends `exchange` on `client` and reads its response; null when none came
 * (then the client is closed and a violation recorded: a normal request must
 * always be answered).
 */
async function perform(
  world: World,
  client: RawClient,
  exchange: Exchange,
  closeWrite = false,
): Promise<RawResponse | null> {
  world.stats.requests.add(exchange.kind);
  const started = performance.now();
  let response: RawResponse;
  try {
    try {
      await client.write(serialize(world, exchange), REQUEST_TIMEOUT_MS);
      if (closeWrite) await client.closeWrite();
    } catch (error) {
      // A server may answer an upload early (412) and close without reading the rest of
      // the body, which fails the write: the answer, already received, still counts.
      if (error instanceof TimeoutError) throw error;
    }
    response = await client.readResponse(exchange.method, REQUEST_TIMEOUT_MS);
  } catch (error) {
    world.stats.errors.add(`${exchange.kind}: ${describeError(error)}`);
    world.stats.violate(
      `${exchange.method} ${exchange.target} (${exchange.kind}) failed: ${errorText(error)}`,
    );
    exchange.settle?.(null);
    client.close();
    return null;
  }
  world.stats.latenciesMs.push(performance.now() - started);
  exchange.settle?.(response);
  judge(world, exchange, response);
  return response;
}

/** A connection, or null after recording the failure as a violation (a server must accept). */
async function connect(world: World, purpose: string): Promise<RawClient | null> {
  try {
    return await RawClient.connect(world.port, REQUEST_TIMEOUT_MS);
  } catch (error) {
    world.stats.errors.add(`connect: ${describeError(error)}`);
    world.stats.violate(`connect for ${purpose} failed: ${errorText(error)}`);
    return null;
  }
}

// --- Reads of the static files ---------------------------------------------------------

function checkWhole(file: StaticFile): (response: RawResponse) => string | null {
  return (response) => {
    if (!sameBytes(response.body, file.bytes)) {
      return `body of ${response.body.length} bytes differs from the file's ${file.bytes.length}`;
    }
    const etag = response.headers.get("etag");
    return etag === file.etag ? null : `ETag ${etag}, expected ${file.etag}`;
  };
}

function checkRange(
  file: StaticFile,
  first: number,
  last: number,
): (response: RawResponse) => string | null {
  return (response) => {
    const contentRange = response.headers.get("content-range") ?? "";
    const range = parseContentRange(contentRange);
    if (
      range === null || range.first !== first || range.last !== last ||
      range.size !== file.bytes.length
    ) {
      return `Content-Range ${
        JSON.stringify(contentRange)
      }, expected bytes ${first}-${last}/${file.bytes.length}`;
    }
    return sameBytes(response.body, file.bytes.subarray(first, last + 1))
      ? null
      : "range bytes differ";
  };
}

function getStatic(world: World, r: Random): Exchange {
  const { s, m, big } = world.statics;
  const file = r.weighted([[s, 6], [m, 3], [big, 0.2]] as const);
  return { kind: "GET", method: "GET", target: file.path, expect: [200], check: checkWhole(file) };
}

function headStatic(world: World, r: Random): Exchange {
  const file = r.pick([world.statics.s, world.statics.m, world.statics.big]);
  return {
    kind: "HEAD",
    method: "HEAD",
    target: file.path,
    expect: [200],
    check: (response) => {
      const length = response.headers.get("content-length");
      return length === String(file.bytes.length) ? null : `HEAD Content-Length ${length}`;
    },
  };
}

function singleRange(world: World, r: Random): Exchange {
  const file = r.pick([world.statics.s, world.statics.m, world.statics.big]);
  const size = file.bytes.length;
  const form = r.int(0, 19);
  const exchange = { kind: "GET range", method: "GET", target: file.path };
  if (form === 0) {
    return {
      ...exchange,
      headers: [`Range: bytes=${size}-`],
      expect: [416],
      check: (response) => {
        const value = response.headers.get("content-range");
        return value === `bytes */${size}` ? null : `416 with Content-Range ${value}`;
      },
    };
  }
  let spec: string;
  let first: number;
  let last = size - 1;
  if (form < 6) {
    first = r.int(1, size - 1);
    spec = `${first}-`;
  } else if (form < 10) {
    const suffix = r.int(1, size - 1);
    first = size - suffix;
    spec = `-${suffix}`;
  } else {
    first = r.int(0, size - 1);
    const end = r.int(first, Math.min(first + 64 * 1024, size + 100));
    last = Math.min(end, size - 1);
    spec = `${first}-${end}`;
  }
  return {
    ...exchange,
    headers: [`Range: bytes=${spec}`],
    expect: [206],
    check: checkRange(file, first, last),
  };
}

function multipleRanges(world: World, r: Random): Exchange {
  const file = r.pick([world.statics.s, world.statics.m, world.statics.big]);
  const size = file.bytes.length;
  const specs: { first: number; last: number }[] = [];
  for (let i = r.int(2, 4); i > 0; i--) {
    const first = r.int(0, size - 1);
    specs.push({ first, last: Math.min(size - 1, first + r.int(0, 2000)) });
  }
  // The expectation, worked out here: sorted, and overlapping or touching ranges merged.
  const merged: { first: number; last: number }[] = [];
  for (const spec of [...specs].sort((a, b) => a.first - b.first)) {
    const previous = merged.at(-1);
    if (previous !== undefined && spec.first <= previous.last + 1) {
      previous.last = Math.max(previous.last, spec.last);
    } else merged.push({ ...spec });
  }
  const header = `Range: bytes=${specs.map((s) => `${s.first}-${s.last}`).join(",")}`;
  const exchange = {
    kind: "GET ranges",
    method: "GET",
    target: file.path,
    headers: [header],
    expect: [206],
  };
  if (merged.length === 1) {
    return { ...exchange, check: checkRange(file, merged[0].first, merged[0].last) };
  }
  return {
    ...exchange,
    check: (response) => {
      let parts;
      try {
        parts = parseByteRanges(response.body, response.headers.get("content-type") ?? "");
      } catch (error) {
        return `multipart body: ${errorText(error)}`;
      }
      if (parts.length !== merged.length) return `${parts.length} parts, expected ${merged.length}`;
      for (const [i, part] of parts.entries()) {
        const want = merged[i];
        if (part.first !== want.first || part.last !== want.last || part.size !== size) {
          return `part ${i} is ${part.first}-${part.last}/${part.size}, expected ${want.first}-${want.last}/${size}`;
        }
        if (!sameBytes(part.bytes, file.bytes.subarray(want.first, want.last + 1))) {
          return `part ${i} bytes differ`;
        }
      }
      return null;
    },
  };
}

/** An HTTP date long before any file here was written. */
const LONG_AGO = "Thu, 01 Jan 1998 00:00:00 GMT";

/** Conditional reads of a static file: every outcome is known exactly. */
function conditionalStatic(world: World, r: Random): Exchange {
  const file = r.pick([world.statics.s, world.statics.m]);
  const base = { method: "GET", target: file.path };
  const whole = checkWhole(file);
  switch (r.int(0, 8)) {
    case 0:
      return {
        ...base,
        kind: "GET If-None-Match",
        headers: [`If-None-Match: ${file.etag}`],
        expect: [304],
      };
    case 1:
      return {
        ...base,
        kind: "GET If-None-Match",
        headers: [`If-None-Match: "nope", W/"other"`],
        expect: [200],
        check: whole,
      };
    case 2:
      return {
        ...base,
        kind: "GET If-Match",
        headers: [`If-Match: "nope", ${file.etag}`],
        expect: [200],
        check: whole,
      };
    case 3:
      return { ...base, kind: "GET If-Match", headers: [`If-Match: "nope"`], expect: [412] };
    case 4:
      return {
        ...base,
        kind: "GET If-Modified-Since",
        headers: [`If-Modified-Since: ${file.lastModified}`],
        expect: [304],
      };
    case 5:
      return {
        ...base,
        kind: "GET If-Modified-Since",
        headers: [`If-Modified-Since: ${LONG_AGO}`],
        expect: [200],
        check: whole,
      };
    case 6:
      return {
        ...base,
        kind: "GET If-Unmodified-Since",
        headers: [`If-Unmodified-Since: ${LONG_AGO}`],
        expect: [412],
      };
    case 7:
      return {
        ...base,
        kind: "GET If-Range",
        headers: [`If-Range: ${file.etag}`, "Range: bytes=10-99"],
        expect: [206],
        check: checkRange(file, 10, 99),
      };
    default:
      return {
        ...base,
        kind: "GET If-Range",
        headers: [`If-Range: "stale"`, "Range: bytes=10-99"],
        expect: [200],
        check: whole,
      };
  }
}

// --- Reads and writes of the contested names ---------------------------------------------

function rememberEtag(world: World, name: string, response: RawResponse): void {
  const etag = response.headers.get("etag");
  if (etag !== undefined) world.etags.set(name, etag);
}

/** A 200 body of a contested name must be one whole body that could be there. */
function checkContested(world: World, name: string): (response: RawResponse) => string | null {
  return (response) => {
    if (response.status !== 200) return null;
    rememberEtag(world, name, response);
    return world.ledger.explain(name, response.body);
  };
}

function getContested(world: World, r: Random): Exchange {
  const name = r.pick(world.names);
  return {
    kind: "GET contested",
    method: "GET",
    target: `/${name}`,
    expect: [200, 404],
    check: checkContested(world, name),
  };
}

function rangeContested(world: World, r: Random): Exchange {
  const name = r.pick(world.names);
  return {
    kind: "GET range contested",
    method: "GET",
    target: `/${name}`,
    headers: ["Range: bytes=0-17"],
    expect: [206, 404],
    check: (response) => {
      if (response.status !== 206) return null;
      const text = latin1.decode(response.body);
      return text === "filedrop-soak put=" ? null : `range 0-17 is ${JSON.stringify(text)}`;
    },
  };
}

function conditionalContested(world: World, r: Random): Exchange {
  const name = r.pick(world.names);
  const etag = world.etags.get(name) ?? `"none"`;
  return {
    kind: "GET If-None-Match contested",
    method: "GET",
    target: `/${name}`,
    headers: [`If-None-Match: ${etag}`],
    expect: [200, 304, 404],
    check: checkContested(world, name),
  };
}

function bodySize(r: Random): number {
  return r.weighted(
    [[r.int(64, 4096), 70], [r.int(4097, 64 * 1024), 25], [
      r.int(64 * 1024, 1024 * 1024),
      5,
    ]] as const,
  );
}

type PutVariant = "plain" | "If-Match" | "If-None-Match";

function put(world: World, r: Random, variant: PutVariant): Exchange {
  const name = r.pick(world.names);
  const record = world.ledger.addPut(name, false);
  const body = makeBody(record.id, name, bodySize(r), world.seed);
  // Asked for, so the answer says what was stored.
  const headers: string[] = ["Want-Repr-Digest: sha-256=1"];
  let expect: number[] = [201, 204];
  if (variant === "If-Match") {
    headers.push(`If-Match: ${world.etags.get(name) ?? `"none"`}`);
    expect = [204, 412];
  } else if (variant === "If-None-Match") {
    headers.push("If-None-Match: *");
    expect = [201, 412];
  }
  const digest = `sha-256=:${createHash("sha256").update(body).digest("base64")}:`;
  return {
    kind: variant === "plain" ? "PUT" : `PUT ${variant}`,
    method: "PUT",
    target: `/${name}`,
    headers,
    body,
    chunks: r.chance(0.2) ? r.int(1, 3) : undefined,
    expect,
    settle: (response) => {
      if (response === null) record.state = "unanswered";
      else {
        record.status = response.status;
        record.state = response.status === 201 || response.status === 204 ? "acked" : "refused";
      }
    },
    check: (response) => {
      if (response.status !== 201 && response.status !== 204) return null;
      rememberEtag(world, name, response);
      const stored = response.headers.get("repr-digest");
      return stored === digest ? null : `Repr-Digest ${stored}, the body sent has ${digest}`;
    },
  };
}

function del(world: World, r: Random): Exchange {
  return {
    kind: "DELETE",
    method: "DELETE",
    target: `/${r.pick(world.names)}`,
    expect: [204, 404],
  };
}

function move(world: World, r: Random): Exchange {
  const from = r.pick(world.names);
  const to = r.pick(world.names.filter((name) => name !== from));
  const overwrite = r.chance(0.3) ? "F" : "T";
  const destination = r.chance(0.5) ? `/${to}` : `http://127.0.0.1:${world.port}/${to}`;
  const record = world.ledger.addMove(from, to);
  return {
    kind: "MOVE",
    method: "MOVE",
    target: `/${from}`,
    headers: [`Destination: ${destination}`, `Overwrite: ${overwrite}`],
    expect: overwrite === "F" ? [201, 404, 412] : [201, 204, 404],
    settle: (response) => {
      if (response === null) record.state = "unanswered";
      else record.state = response.status === 201 || response.status === 204 ? "acked" : "refused";
    },
  };
}

function pickExchange(world: World, r: Random): Exchange {
  const make = r.weighted<(world: World, r: Random) => Exchange>([
    [getStatic, 12],
    [headStatic, 3],
    [singleRange, 10],
    [multipleRanges, 7],
    [conditionalStatic, 10],
    [getContested, 12],
    [rangeContested, 3],
    [conditionalContested, 4],
    [(w, rr) => put(w, rr, "plain"), 16],
    [(w, rr) => put(w, rr, "If-Match"), 3],
    [(w, rr) => put(w, rr, "If-None-Match"), 3],
    [del, 6],
    [move, 7],
  ]);
  return make(world, r);
}

// --- Workers -----------------------------------------------------------------------------

/** A keep-alive connection with 1-8 requests; some pipelined, some ending in a half-close. */
async function session(world: World, r: Random, stopAt: number): Promise<void> {
  const client = await connect(world, "a session");
  if (client === null) return;
  try {
    const count = r.int(1, 8);
    const halfCloseLast = r.chance(0.1);
    for (let i = 0; i < count && Date.now() < stopAt; i++) {
      if (r.chance(0.05)) {
        if (!(await pipelined(world, r, client))) return;
        continue;
      }
      const last = i === count - 1;
      const exchange = pickExchange(world, r);
      const response = await perform(world, client, exchange, last && halfCloseLast);
      if (response === null) return;
      if (response.closes) {
        // Allowed (a refused upload's body need not be read), but worth knowing.
        world.stats.notes.add(
          `the server closed the connection after ${exchange.kind} ${response.status}`,
        );
        return;
      }
      if (last && halfCloseLast) {
        // The client said it is done: the server must close its side too.
        try {
          const extra = await client.readToEnd(5_000);
          if (extra > 0) {
            world.stats.violate(
              `${extra} bytes after the last response to a half-closed connection`,
            );
          }
        } catch (error) {
          world.stats.violate(
            `a half-closed connection was not closed by the server: ${errorText(error)}`,
          );
        }
      }
    }
  } finally {
    client.close();
  }
}

/** Three requests in one write; false when the connection is gone. */
async function pipelined(world: World, r: Random, client: RawClient): Promise<boolean> {
  const exchanges = [getStatic(world, r), singleRange(world, r), conditionalStatic(world, r)];
  const kind = "GET pipelined";
  world.stats.requests.add(kind, exchanges.length);
  const started = performance.now();
  try {
    await client.write(concat(...exchanges.map((e) => serialize(world, e))), REQUEST_TIMEOUT_MS);
    for (const exchange of exchanges) {
      const response = await client.readResponse(exchange.method, REQUEST_TIMEOUT_MS);
      world.stats.latenciesMs.push(performance.now() - started);
      judge(world, { ...exchange, kind }, response);
      if (response.closes) return false;
    }
    return true;
  } catch (error) {
    world.stats.errors.add(`${kind}: ${describeError(error)}`);
    world.stats.violate(`pipelined GETs failed: ${errorText(error)}`);
    client.close();
    return false;
  }
}

/** The abuse scenarios of the mixed workers. */
export const ABUSES = [
  "reset after a response",
  "reset mid-head",
  "reset mid-body",
  "reset mid-response",
  "close mid-head",
  "close mid-body",
  "half-close mid-head",
  "half-close mid-body",
] as const;

/** A head cut short: at least one byte, never its final CRLF CRLF. */
function partialHead(world: World, r: Random): Uint8Array {
  const head = encoder.encode(
    `GET /s HTTP/1.1\r\nHost: 127.0.0.1:${world.port}\r\nAccept: */*\r\nX-Soak: ${
      r.int(0, 1e9)
    }\r\n\r\n`,
  );
  return head.subarray(0, r.int(1, head.length - 1));
}

/** An upload cut short: its head and part of its body (which the ledger marks as never complete). */
function partialUpload(world: World, r: Random): Uint8Array {
  const name = r.pick(world.names);
  const record = world.ledger.addPut(name, true);
  const body = makeBody(record.id, name, bodySize(r), world.seed);
  const exchange: Exchange = {
    kind: "PUT",
    method: "PUT",
    target: `/${name}`,
    body,
    chunks: r.chance(0.3) ? r.int(1, 3) : undefined,
    expect: [],
  };
  const framed = framedBody(body, exchange.chunks);
  // Chunked: stop before the last chunk "0\r\n\r\n" starts, so the message is incomplete by any reading.
  const cut = r.int(0, framed.length - (exchange.chunks === undefined ? 1 : 6));
  return concat(encoder.encode(requestHead(world, exchange)), framed.subarray(0, cut));
}

/**
 * One abuse scenario. Resets close with received bytes left unread, which
 * makes Linux send a RST: first a small GET is answered and only one byte
 * of it read.
 */
async function abuse(world: World, r: Random): Promise<void> {
  const kind = r.pick(ABUSES);
  world.stats.scenarios.add(kind);
  const client = await connect(world, kind);
  if (client === null) return;
  const smallGet = encoder.encode(`GET /s HTTP/1.1\r\nHost: 127.0.0.1:${world.port}\r\n\r\n`);
  try {
    switch (kind) {
      case "reset after a response":
        await client.write(smallGet, REQUEST_TIMEOUT_MS);
        await client.readSome(1, REQUEST_TIMEOUT_MS);
        break;
      case "reset mid-head":
        await client.write(concat(smallGet, partialHead(world, r)), REQUEST_TIMEOUT_MS);
        await client.readSome(1, REQUEST_TIMEOUT_MS);
        await sleep(r.int(5, 100));
        break;
      case "reset mid-body":
        await client.write(concat(smallGet, partialUpload(world, r)), REQUEST_TIMEOUT_MS);
        await client.readSome(1, REQUEST_TIMEOUT_MS);
        await sleep(r.int(5, 100));
        break;
      case "reset mid-response":
        await client.write(
          encoder.encode(`GET /big HTTP/1.1\r\nHost: 127.0.0.1:${world.port}\r\n\r\n`),
          REQUEST_TIMEOUT_MS,
        );
        await client.readSome(1, REQUEST_TIMEOUT_MS);
        await sleep(r.int(0, 200));
        break;
      case "close mid-head":
        await client.write(partialHead(world, r), REQUEST_TIMEOUT_MS);
        await sleep(r.int(0, 100));
        break;
      case "close mid-body":
        await client.write(partialUpload(world, r), REQUEST_TIMEOUT_MS);
        await sleep(r.int(0, 100));
        break;
      case "half-close mid-head":
      case "half-close mid-body": {
        const bytes = kind === "half-close mid-head"
          ? partialHead(world, r)
          : partialUpload(world, r);
        await client.write(bytes, REQUEST_TIMEOUT_MS);
        await client.closeWrite();
        // A request cut short by a half-close is answered 400, then the server closes.
        world.stats.requests.add(kind);
        const response = await client.readResponse("GET", REQUEST_TIMEOUT_MS);
        world.stats.status(kind, response.status);
        if (response.status !== 400) {
          world.stats.violate(`${kind}: status ${response.status}, expected 400`);
        }
        const extra = await client.readToEnd(5_000);
        if (extra > 0) world.stats.violate(`${kind}: ${extra} bytes after the 400`);
        break;
      }
    }
  } catch (error) {
    world.stats.errors.add(`${kind}: ${describeError(error)}`);
    if (kind.startsWith("half-close")) world.stats.violate(`${kind}: ${errorText(error)}`);
  } finally {
    client.close();
  }
}

/** Mixed traffic: keep-alive sessions, and about one abuse scenario in five. */
async function mixedWorker(world: World, r: Random, stopAt: number): Promise<void> {
  while (Date.now() < stopAt) {
    if (r.chance(0.2)) await abuse(world, r);
    else await session(world, r, stopAt);
  }
}

/**
 * A client reading 1 KiB a second of /big, checking every byte, for
 * `sessionMs` per connection (then it closes with data unread: a reset).
 */
async function slowReader(world: World, stopAt: number, sessionMs: number): Promise<void> {
  const big = world.statics.big.bytes;
  while (Date.now() < stopAt) {
    world.stats.scenarios.add("slow reader");
    const client = await connect(world, "a slow reader");
    if (client === null) return;
    const started = Date.now();
    let head: Uint8Array = new Uint8Array(0);
    let offset = -1;
    try {
      await client.write(
        encoder.encode(`GET /big HTTP/1.1\r\nHost: 127.0.0.1:${world.port}\r\n\r\n`),
        REQUEST_TIMEOUT_MS,
      );
      while (Date.now() < stopAt && Date.now() - started < sessionMs) {
        const chunk = await client.readSome(1024, REQUEST_TIMEOUT_MS);
        if (chunk === null) {
          world.stats.violate(`the server closed a slow reader after ${Date.now() - started} ms`);
          break;
        }
        let data = chunk;
        if (offset < 0) {
          head = concat(head, chunk);
          const end = indexOfBytes(head, CRLFCRLF);
          if (end === -1) continue;
          const statusLine = latin1.decode(head.subarray(0, head.indexOf(13)));
          if (statusLine !== "HTTP/1.1 200 OK") {
            world.stats.violate(`slow reader got ${JSON.stringify(statusLine)}`);
            break;
          }
          data = head.subarray(end + 4);
          offset = 0;
        }
        if (!sameBytes(data, big.subarray(offset, offset + data.length))) {
          world.stats.violate(`slow reader: bytes at ${offset} differ from /big`);
          break;
        }
        offset += data.length;
        world.stats.slowReadBytes += data.length;
        if (offset >= big.length) break;
        await sleep(1000);
      }
    } catch (error) {
      world.stats.errors.add(`slow reader: ${describeError(error)}`);
      world.stats.violate(
        `slow reader failed after ${Date.now() - started} ms: ${errorText(error)}`,
      );
    } finally {
      client.close();
    }
  }
}

/**
 * Slowloris: heads sent one byte every 150-400 ms. A short one completes
 * within the server's header timeout and must be answered 200; a long one
 * cannot and must get 408 and a close once the timeout passes (give or take
 * the server's 250 ms sweep and this machine's noise). Heads whose timing
 * straddles the limit may get either.
 */
async function slowloris(world: World, r: Random, stopAt: number): Promise<void> {
  while (Date.now() < stopAt) {
    const long = r.chance(0.5);
    const kind = long ? "slowloris (too slow)" : "slowloris (in time)";
    world.stats.scenarios.add(kind);
    const client = await connect(world, kind);
    if (client === null) return;
    const head = long
      ? `GET /s HTTP/1.1\r\nHost: 127.0.0.1:${world.port}\r\nUser-Agent: soak-slowloris\r\nAccept: */*\r\n\r\n`
      : `GET /s HTTP/1.1\r\nHost:127.0.0.1\r\n\r\n`;
    const gap = long ? [300, 400] : [150, 220];
    const started = Date.now();
    let lastByteAt = 0;
    let sent = 0;
    let done = false;
    let answeredAt = 0;
    let aborted = false;
    world.stats.requests.add(kind);
    // The response is awaited while the head trickles out: a 408 can come at any byte.
    const answer = client.readResponse("GET", HEADER_TIMEOUT_MS + 20_000).finally(() => {
      done = true;
      answeredAt = Date.now();
    });
    answer.catch(() => {});
    try {
      for (let i = 0; i < head.length && !done; i++) {
        if (Date.now() >= stopAt) {
          aborted = true;
          break;
        }
        await client.write(encoder.encode(head[i]), REQUEST_TIMEOUT_MS);
        lastByteAt = Date.now();
        sent++;
        if (i < head.length - 1) await sleep(r.int(gap[0], gap[1]));
      }
    } catch {
      // A write after the server's 408 and close fails; the answer tells what happened.
    }
    if (aborted && !done) {
      client.close();
      await answer.catch(() => {});
      continue;
    }
    try {
      const response = await answer;
      const elapsed = answeredAt - started;
      world.stats.status(kind, response.status);
      const sentAll = sent === head.length;
      const headMs = lastByteAt - started;
      if (long) {
        if (response.status !== 408) {
          world.stats.violate(`${kind}: status ${response.status}, expected 408`);
        } else if (elapsed < HEADER_TIMEOUT_MS - 500) {
          world.stats.violate(`${kind}: 408 after only ${elapsed} ms`);
        } else if (elapsed > HEADER_TIMEOUT_MS + 3_000) {
          world.stats.notes.add(`${kind}: 408 came over 3 s after the header timeout`);
        }
      } else if (sentAll && headMs < HEADER_TIMEOUT_MS - 1_000) {
        if (response.status !== 200) {
          world.stats.violate(`${kind}: head sent in ${headMs} ms got ${response.status}`);
        } else if (!sameBytes(response.body, world.statics.s.bytes)) {
          world.stats.violate(`${kind}: body differs`);
        }
      } else if (response.status !== 200 && response.status !== 408) {
        world.stats.violate(`${kind}: head sent in ${headMs} ms got ${response.status}`);
      }
      if (response.status === 408) {
        const extra = await client.readToEnd(5_000);
        if (extra > 0) world.stats.violate(`${kind}: ${extra} bytes after the 408`);
      }
    } catch (error) {
      world.stats.errors.add(`${kind}: ${describeError(error)}`);
      world.stats.violate(`${kind} failed after ${Date.now() - started} ms: ${errorText(error)}`);
    } finally {
      client.close();
    }
  }
}

/** Every few seconds, a storm of 40-120 connections reset by the helper (SO_LINGER 0). */
async function resetStorms(
  world: World,
  r: Random,
  helper: ResetHelper,
  stopAt: number,
): Promise<void> {
  const modes = ["accept", "head", "body"] as const;
  for (let i = 0;; i++) {
    await sleep(Math.min(r.int(2_000, 5_000), stopAt - Date.now()));
    if (Date.now() >= stopAt) return;
    const mode = modes[i % modes.length];
    world.stats.scenarios.add(`reset storm (${mode})`);
    const result = await helper.storm(r.int(40, 120), world.port, mode);
    world.stats.stormResets += result.reset;
    world.stats.stormConnectFailures += result.failed;
    if (result.failed > 0) {
      world.stats.violate(`reset storm: ${result.failed} connection(s) could not be opened`);
    }
  }
}

/** Runs a worker, turning a crash of the soak's own code into a violation rather than a hang. */
async function guarded(world: World, name: string, work: () => Promise<void>): Promise<void> {
  try {
    await work();
  } catch (error) {
    world.stats.violate(
      `soak worker ${name} crashed: ${error instanceof Error ? error.stack : error}`,
    );
  }
}

/**
 * Runs all the clients until `stopAt` (then each finishes or abandons what it
 * is doing): 2 slow readers (one reading for a whole phase), 3 slowloris
 * clients, 1 reset-storm driver when the helper is there, and mixed workers
 * for the rest of `connections`.
 */
export async function runClients(
  world: World,
  helper: ResetHelper | null,
  connections: number,
  stopAt: number,
  seed: number,
): Promise<void> {
  const workers: Promise<void>[] = [];
  for (let i = 0; i < connections; i++) {
    const r = new Random(seed + i * 7919);
    let work: () => Promise<void>;
    if (i === 0) work = () => slowReader(world, stopAt, Infinity);
    else if (i === 1) work = () => slowReader(world, stopAt, SLOW_READ_MS);
    else if (i < 5) work = () => slowloris(world, r, stopAt);
    else if (i === 5 && helper !== null) work = () => resetStorms(world, r, helper, stopAt);
    else work = () => mixedWorker(world, r, stopAt);
    workers.push(guarded(world, `#${i}`, work));
  }
  await Promise.all(workers);
}

/** The `p`th percentile (0-100) of `values`; NaN when empty. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}
