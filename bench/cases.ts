/**
 * The benchmark cases and the files they need in the served root.
 *
 * @module
 */

import { join } from "node:path";

/** One workload: a single request wrk repeats for the whole run. */
export interface BenchCase {
  /** Short name used by `--cases` and in the report. */
  name: string;
  /** One-line explanation for the report. */
  title: string;
  /** Request method. */
  method: "GET" | "HEAD" | "PUT";
  /** Request path. */
  path: string;
  /** Fixed extra request headers. */
  headers: Record<string, string>;
  /** Size of the PUT body, 0 for none. */
  requestBodyBytes: number;
  /** Body size of a correct 200 response (checked by the preflight). */
  responseBodyBytes: number;
  /** Statuses a correct server may answer with. */
  expectedStatuses: readonly number[];
  /** Smallest and largest plausible size of one whole response (head and body), in bytes. */
  responseBytes: { min: number; max: number };
  /** Whether the run first needs the file's ETag to send `If-None-Match`. */
  conditional: boolean;
  /** Which bytes count for MB/s: response bytes read, or request bodies sent. */
  throughput: "response" | "request-body";
}

/** A file the fixtures put in the served root. */
export interface FixtureFile {
  /** Path under the root. */
  path: string;
  /** Size in bytes. */
  size: number;
}

const KIB = 1024;
const MIB = 1024 * KIB;
/** Generous allowance for a response head, so that header-size differences never fail a run. */
const HEAD_ALLOWANCE = 4 * KIB;

/** Files created in the temporary root before the servers start. */
export const FIXTURE_FILES: readonly FixtureFile[] = [
  { path: "1k.bin", size: KIB },
  { path: "64k.bin", size: 64 * KIB },
  { path: "16m.bin", size: 16 * MIB },
  { path: "empty.bin", size: 0 },
];

/** Directory under the root that PUT cases write into. */
export const UPLOAD_DIR = "uploads";

function getCase(name: string, title: string, path: string, size: number): BenchCase {
  return {
    name,
    title,
    method: "GET",
    path,
    headers: {},
    requestBodyBytes: 0,
    responseBodyBytes: size,
    expectedStatuses: [200],
    responseBytes: { min: size, max: size + HEAD_ALLOWANCE },
    conditional: false,
    throughput: "response",
  };
}

function putCase(name: string, title: string, size: number): BenchCase {
  return {
    name,
    title,
    method: "PUT",
    // A fixed path: every server here replaces files atomically, and unique
    // names would fill the disk at 1 MiB per request.
    path: `/${UPLOAD_DIR}/${name}.bin`,
    headers: {},
    requestBodyBytes: size,
    responseBodyBytes: 0,
    expectedStatuses: [201, 204],
    responseBytes: { min: 0, max: HEAD_ALLOWANCE },
    conditional: false,
    throughput: "request-body",
  };
}

/** Every case, in the order they run. */
export const BENCH_CASES: readonly BenchCase[] = [
  getCase("get-1k", "GET 1 KiB, keep-alive", "/1k.bin", KIB),
  getCase("get-64k", "GET 64 KiB, keep-alive", "/64k.bin", 64 * KIB),
  getCase("get-16m", "GET 16 MiB, keep-alive (watch MB/s)", "/16m.bin", 16 * MIB),
  {
    ...getCase("not-found", "GET a missing file, 404", "/missing.bin", 0),
    expectedStatuses: [404],
  },
  {
    // wrk cannot parse a HEAD response that announces a body (it waits for
    // the body), so the load runs on an empty file; the preflight checks HEAD
    // on the 1 KiB file.
    ...getCase("head", "HEAD of an empty file (wrk cannot HEAD a non-empty one)", "/empty.bin", 0),
    method: "HEAD",
  },
  {
    ...getCase("get-1k-close", "GET 1 KiB, new connection per request", "/1k.bin", KIB),
    headers: { Connection: "close" },
  },
  putCase("put-1k", "PUT 1 KiB to a fixed path", KIB),
  putCase("put-1m", "PUT 1 MiB to a fixed path", MIB),
  {
    ...getCase("cond-304", "GET 1 KiB with matching If-None-Match, 304", "/1k.bin", 0),
    expectedStatuses: [304],
    // Below the 1 KiB body: a server ignoring If-None-Match fails the run.
    responseBytes: { min: 0, max: KIB - 1 },
    conditional: true,
  },
];

/** Names of all cases, in run order. */
export const CASE_NAMES: readonly string[] = BENCH_CASES.map((benchCase) => benchCase.name);

function randomBytes(size: number): Uint8Array {
  const bytes = new Uint8Array(size);
  // getRandomValues fills at most 64 KiB per call.
  for (let offset = 0; offset < size; offset += 65536) {
    crypto.getRandomValues(bytes.subarray(offset, Math.min(size, offset + 65536)));
  }
  return bytes;
}

/**
 * Fills `root` with the fixture files (random bytes, so nothing compresses),
 * an index.html and the upload directory.
 *
 * @param root an existing, empty directory
 */
export async function createFixtures(root: string): Promise<void> {
  for (const fixture of FIXTURE_FILES) {
    using file = await Deno.open(join(root, fixture.path), { write: true, createNew: true });
    for (let written = 0; written < fixture.size; written += MIB) {
      const chunk = randomBytes(Math.min(MIB, fixture.size - written));
      let offset = 0;
      while (offset < chunk.length) offset += await file.write(chunk.subarray(offset));
    }
  }
  await Deno.writeTextFile(
    join(root, "index.html"),
    "<!doctype html>\n<title>bench</title>\n<p>benchmark root</p>\n",
  );
  await Deno.mkdir(join(root, UPLOAD_DIR));
}

/**
 * Looks up cases by name, keeping the given order, or all cases for null.
 *
 * @param names case names, already validated
 * @returns the matching cases
 */
export function selectCases(names: readonly string[] | null): BenchCase[] {
  if (names === null) return [...BENCH_CASES];
  return names.map((name) => {
    const found = BENCH_CASES.find((benchCase) => benchCase.name === name);
    if (found === undefined) throw new Error(`unknown case ${name}`);
    return found;
  });
}
