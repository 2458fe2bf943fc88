/**
 * One careful request per server and case before the load: checks the exact
 * status and body size (which wrk alone cannot), and fetches what a case
 * needs, such as the ETag for the 304 case.
 *
 * @module
 */

import type { BenchCase } from "./cases.ts";

/** The verdict of a preflight. */
export type PreflightResult =
  | { ok: true; headers: Record<string, string> }
  | { ok: false; reason: string };

const TIMEOUT_MS = 10_000;

async function request(
  url: string,
  init: { method: string; headers?: Record<string, string>; body?: Uint8Array<ArrayBuffer> },
): Promise<{ status: number; headers: Headers; bodyBytes: number }> {
  const response = await fetch(url, { ...init, signal: AbortSignal.timeout(TIMEOUT_MS) });
  const body = new Uint8Array(await response.arrayBuffer());
  return { status: response.status, headers: response.headers, bodyBytes: body.length };
}

function fail(reason: string): PreflightResult {
  return { ok: false, reason };
}

async function checkHead(origin: string, benchCase: BenchCase): Promise<PreflightResult> {
  for (const [path, size] of [[benchCase.path, 0], ["/1k.bin", 1024]] as const) {
    const response = await request(origin + path, { method: "HEAD" });
    if (response.status !== 200) return fail(`HEAD ${path} gave ${response.status}, expected 200`);
    const length = response.headers.get("content-length");
    if (length !== String(size)) {
      return fail(`HEAD ${path} gave Content-Length ${length}, expected ${size}`);
    }
  }
  return { ok: true, headers: benchCase.headers };
}

async function checkPut(origin: string, benchCase: BenchCase): Promise<PreflightResult> {
  const url = origin + benchCase.path;
  const body = new Uint8Array(benchCase.requestBodyBytes).fill("x".charCodeAt(0));
  const put = await request(url, { method: "PUT", body });
  if (!benchCase.expectedStatuses.includes(put.status)) {
    return fail(`PUT gave ${put.status}, expected ${benchCase.expectedStatuses.join(" or ")}`);
  }
  const get = await request(url, { method: "GET" });
  if (get.status !== 200 || get.bodyBytes !== body.length) {
    return fail(`GET after PUT gave ${get.status} with ${get.bodyBytes} bytes`);
  }
  return { ok: true, headers: benchCase.headers };
}

async function checkConditional(origin: string, benchCase: BenchCase): Promise<PreflightResult> {
  const url = origin + benchCase.path;
  const first = await request(url, { method: "GET" });
  const etag = first.headers.get("etag");
  if (first.status !== 200 || etag === null) {
    return fail(`GET gave ${first.status} ${etag === null ? "without" : "with"} an ETag`);
  }
  const headers = { ...benchCase.headers, "If-None-Match": etag };
  const second = await request(url, { method: "GET", headers });
  if (second.status !== 304) return fail(`GET with If-None-Match gave ${second.status}, not 304`);
  return { ok: true, headers };
}

async function checkGet(origin: string, benchCase: BenchCase): Promise<PreflightResult> {
  const response = await request(origin + benchCase.path, {
    method: "GET",
    headers: benchCase.headers,
  });
  if (!benchCase.expectedStatuses.includes(response.status)) {
    return fail(`GET gave ${response.status}, expected ${benchCase.expectedStatuses.join(" or ")}`);
  }
  const expectedBody = benchCase.responseBodyBytes;
  if (response.status === 200 && response.bodyBytes !== expectedBody) {
    return fail(`GET gave ${response.bodyBytes} body bytes, expected ${expectedBody}`);
  }
  return { ok: true, headers: benchCase.headers };
}

/**
 * Checks that a server answers a case correctly and returns the request
 * headers wrk must send for it.
 *
 * @param origin the server's `http://host:port`
 * @param benchCase the case
 * @returns the headers to use, or why the server fails the case
 */
export async function preflight(origin: string, benchCase: BenchCase): Promise<PreflightResult> {
  try {
    if (benchCase.method === "HEAD") return await checkHead(origin, benchCase);
    if (benchCase.method === "PUT") return await checkPut(origin, benchCase);
    if (benchCase.conditional) return await checkConditional(origin, benchCase);
    return await checkGet(origin, benchCase);
  } catch (error) {
    return fail(`preflight request failed: ${(error as Error).message}`);
  }
}
