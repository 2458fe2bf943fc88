/**
 * Our own parser's trace of a byte stream: the server's sans-IO head parser,
 * framing rules and body decoders, driven over the whole input as the
 * connection drives them (head, framing, body, next head). This is the side
 * of the differential comparison that the oracles check, and the source of
 * the model that the response checker holds the live server to.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { ChunkedDecoder, END, LengthDecoder, NEED_MORE } from "../../lib/http/body_decoders.ts";
import type { BodyDecoder } from "../../lib/http/body_decoders.ts";
import { HttpError } from "../../lib/http/errors.ts";
import { interpretHead } from "../../lib/http/framing.ts";
import { HeadParser } from "../../lib/http/head_parser.ts";
import { ReceiveBuffer } from "../../lib/http/receive_buffer.ts";
import type { Limits } from "../../lib/server/limits.ts";
import type { ParseTrace, TracedRequest } from "./trace.ts";

/** A request as our parser read it, with what the server's model needs besides. */
export interface OurRequest extends TracedRequest {
  /** 0 for HTTP/1.0, 1 for HTTP/1.1 and higher 1.x. */
  minorVersion: 0 | 1;
  /** Whether the client asked for 100 Continue. */
  expectContinue: boolean;
  /** Whether the head lets the connection stay open (known even when the body is not complete). */
  headKeepAlive: boolean;
}

/** Where our parser refused the input. */
export type ErrorStage = "head" | "framing" | "body";

/** Our parser's trace: the common shape, plus the status and stage of a refusal. */
export interface OurTrace extends ParseTrace {
  /** The requests. */
  requests: OurRequest[];
  /** The HttpError status of a refusal (tail "error", or a body "error"). */
  status?: number;
  /** Where the refusal happened: the head's syntax, its framing fields, or the body. */
  stage?: ErrorStage;
  /** A head that parsed but whose framing was refused (stage "framing"). */
  rejected?: { method: string; target: string; minorVersion: 0 | 1; headEnd: number };
}

function sha1(chunks: Uint8Array[]): string {
  const hash = createHash("sha1");
  for (const chunk of chunks) hash.update(chunk);
  return hash.digest("hex");
}

/**
 * Runs our parser over the whole input, as the connection would with
 * `limits`. Whether a head parses does not depend on how the bytes are split
 * (`tests/parser_invariants_test.ts` checks that), so this holds for any
 * split on the wire.
 */
export function traceOurs(input: Uint8Array, limits: Limits): OurTrace {
  const rb = new ReceiveBuffer(Math.max(1, input.length), Math.max(1, input.length));
  rb.writable(input.length).set(input);
  rb.commit(input.length);
  const offset = () => input.length - rb.length;
  const parser = new HeadParser(limits);
  const requests: OurRequest[] = [];
  for (;;) {
    let head;
    try {
      head = parser.parse(rb);
    } catch (error) {
      if (!(error instanceof HttpError)) throw error;
      return {
        requests,
        tail: "error",
        stage: "head",
        status: error.status,
        reason: error.message,
      };
    }
    if (head === null) return { requests, tail: rb.length > 0 ? "partial" : "eof" };
    const headEnd = offset();
    let framing;
    try {
      framing = interpretHead(head);
      const declared = framing.body.kind === "length" ? framing.body.length : 0;
      if (declared > limits.maxBodyBytes) throw new HttpError(413, "Request body too large");
    } catch (error) {
      if (!(error instanceof HttpError)) throw error;
      const { method, target, minorVersion } = head;
      return {
        requests,
        tail: "error",
        stage: "framing",
        status: error.status,
        reason: error.message,
        rejected: { method, target, minorVersion, headEnd },
      };
    }
    // Done with the head's fields, as the connection is once the exchange ends:
    // the next head need not copy them out of the buffer first.
    rb.release();
    const request: OurRequest = {
      method: head.method,
      target: head.target,
      version: head.minorVersion === 0 ? "1.0" : "1.1",
      headEnd,
      end: null,
      body: "complete",
      bodyLength: 0,
      bodyHash: "",
      keepAlive: null,
      minorVersion: head.minorVersion,
      expectContinue: framing.expectContinue,
      headKeepAlive: framing.keepAlive,
    };
    requests.push(request);
    const decoder: BodyDecoder = framing.body.kind === "chunked"
      ? new ChunkedDecoder({
        maxLineBytes: limits.maxChunkLineBytes,
        maxTrailerBytes: limits.maxTrailerBytes,
        maxTrailerCount: limits.maxTrailerCount,
      })
      : new LengthDecoder(framing.body.kind === "length" ? framing.body.length : 0);
    const body: Uint8Array[] = [];
    let failure: HttpError | null = null;
    try {
      for (;;) {
        const step = decoder.next(rb);
        if (step === END || step === NEED_MORE) {
          request.body = step === END ? "complete" : "partial";
          break;
        }
        body.push(step.slice());
        request.bodyLength += step.length;
        // The connection counts a chunked body against the limit as it arrives.
        if (request.bodyLength > limits.maxBodyBytes) {
          throw new HttpError(413, "Request body too large");
        }
      }
    } catch (error) {
      if (!(error instanceof HttpError)) throw error;
      failure = error;
      request.body = "error";
    }
    request.bodyHash = sha1(body);
    if (request.body !== "complete") {
      const trace: OurTrace = { requests, tail: "body" };
      if (failure !== null) {
        Object.assign(trace, { stage: "body", status: failure.status, reason: failure.message });
      }
      return trace;
    }
    request.end = offset();
    request.keepAlive = framing.keepAlive;
    if (!framing.keepAlive) return { requests, tail: "closed" };
  }
}
