/**
 * The model: which requests the server must read from a byte stream, and
 * how each must end. Derived from {@linkcode traceOurs}, the very trace that
 * the differential oracles check, so the live server is held to a model
 * that independent parsers agree with (up to the documented deviations).
 *
 * @module
 */

import type { Limits } from "../../lib/server/limits.ts";
import { traceOurs } from "./ours.ts";

/** How a request's body ends in the byte stream. */
export type BodyState = "complete" | "incomplete" | "invalid";

/** One request head the server will parse, in order. */
export interface ModelRequest {
  /** The method, to know that a HEAD response has no body. */
  method: string;
  /** 0 for HTTP/1.0. */
  minorVersion: 0 | 1;
  /** Whether the head's framing is refused (interpretHead or the body-size check). */
  rejected: boolean;
  /** Whether the client asked for 100 Continue. */
  expectContinue: boolean;
  /** Whether the client allows the connection to stay open. */
  keepAlive: boolean;
  /** Whether its body is all there (always "complete" for a rejected head). */
  body: BodyState;
}

/** The requests in a byte stream, and what follows the last one. */
export interface StreamModel {
  /** Requests whose heads are complete and valid, in order; the last may be rejected. */
  requests: ModelRequest[];
  /**
   * After the last request: nothing (or nothing the server reads on),
   * an incomplete head, or bytes the head parser refuses.
   */
  tail: "none" | "partial" | "invalid";
}

const BODY_STATES = { complete: "complete", partial: "incomplete", error: "invalid" } as const;

/** What the server must make of `input` when it runs with `limits`. */
export function modelStream(input: Uint8Array, limits: Limits): StreamModel {
  const trace = traceOurs(input, limits);
  const requests: ModelRequest[] = trace.requests.map((request) => ({
    method: request.method,
    minorVersion: request.minorVersion,
    rejected: false,
    expectContinue: request.expectContinue,
    keepAlive: request.headKeepAlive,
    body: BODY_STATES[request.body],
  }));
  if (trace.rejected !== undefined) {
    const { method, minorVersion } = trace.rejected;
    requests.push({
      method,
      minorVersion,
      rejected: true,
      expectContinue: false,
      keepAlive: false,
      body: "complete",
    });
    return { requests, tail: "none" };
  }
  const tail = trace.tail === "partial" ? "partial" : trace.tail === "error" ? "invalid" : "none";
  return { requests, tail };
}
