/**
 * The S3 requests the S3 store makes, signed by `aws4fetch` (SigV4) and sent
 * with Deno's `fetch`: no retries (a body is never sent twice behind our
 * back; retry policy is the caller's), every failure an {@linkcode S3Error}
 * with the store's error code, and the one place that knows the gateway's
 * quirks (see {@linkcode putConditionHeaders}).
 *
 * Two transports. Requests without a body (HEAD, GET, DELETE, listings,
 * CopyObject) go through `fetch`, whose streamed response bodies cost the
 * least memory (measured: a 100 MiB GetObject read to the end added 38 MiB
 * RSS, against 73 MiB through `node:http`). Requests with a body
 * (PutObject, UploadPart, CompleteMultipartUpload) go through `node:http`
 * / `node:https` with an explicit Content-Length, signed by aws4fetch:
 * Deno's `fetch` copies every body into a fresh buffer that only a garbage
 * collection frees, and thirteen 8 MiB parts took the process from 44 to
 * 133 MiB RSS (85 MiB with a forced GC after each), where `node:http`
 * writes the caller's buffer and stayed at 65 MiB. (A stream body is no way
 * out: Deno's `fetch` sends it chunked, which S3 and RGW refuse with 411.)
 * Integrity, verified by the store (RGW ignores `x-amz-checksum-*`; see
 * docs/s3-notes.md): a PutObject body is signed (SigV4 signed payload: its
 * SHA-256 in `x-amz-content-sha256`, covered by the signature, so even over
 * plain http nobody can alter it unnoticed; RGW 16.2 and AWS answer a
 * mismatch with 400 XAmzContentSHA256Mismatch). SHA-256 rather than
 * `Content-MD5` because it is the cheaper digest here: 1.5 against 3.6 ms
 * per MiB through `node:crypto` (the CPU has SHA extensions), measured on
 * 2026-12-06. UploadPart and CompleteMultipartUpload go with `Content-MD5`
 * and `UNSIGNED-PAYLOAD` (the parts' MD5s also make the multipart ETag).
 *
 * @module
 */

import { AwsClient } from "aws4fetch";
import { Buffer } from "node:buffer";
import { createHash } from "node:crypto";
import * as http from "node:http";
import * as https from "node:https";
import type { S3Config } from "./s3_config.ts";
import { escapeXmlText, xmlElements, xmlText } from "./s3_xml.ts";

/**
 * A failed S3 request. `status` is the store's HTTP status, or 0 when there
 * was no answer (`code` "Unreachable" or "Timeout"). The message names the
 * operation and the store's code, never a credential.
 */
export class S3Error extends Error {
  /** The store's HTTP status; 0 when it did not answer. */
  readonly status: number;
  /** The store's error code (`NoSuchKey`, `SlowDown`...), or `Unreachable`, `Timeout`, `InvalidResponse`. */
  readonly code: string;
  /** The store's `Retry-After`, when it sent one. */
  readonly retryAfter: string | undefined;

  constructor(status: number, code: string, message: string, retryAfter?: string) {
    super(message);
    this.name = "S3Error";
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter;
  }
}

/** What HeadObject (or a listing) says about an object. */
export interface ObjectInfo {
  /** Size in bytes. */
  size: number;
  /** The store's ETag, quoted (`"9a0364b9e99bb480dd25e1f0284c8555"`). */
  etag: string;
  /** Last modification in ms since the epoch, whole seconds (what HEAD and HTTP dates carry). */
  lastModified: number;
}

/** One object of a listing. */
export interface ListedObject extends ObjectInfo {
  /** Its full key. */
  key: string;
}

/** One page of ListObjectsV2. */
export interface ListPage {
  /** Objects, in key order. */
  objects: ListedObject[];
  /** Common prefixes (with `delimiter`), each ending with the delimiter. */
  prefixes: string[];
  /** The token of the next page, or null on the last one. */
  nextToken: string | null;
}

/** A part of a multipart upload, as CompleteMultipartUpload needs it. */
export interface UploadedPart {
  /** 1-based part number. */
  partNumber: number;
  /** The part's ETag (quoted). */
  etag: string;
}

/** A part of a multipart upload as ListParts describes it. */
export interface ListedPart extends UploadedPart {
  /** Its size in bytes. */
  size: number;
}

/** How long a request may take to get its response head; a stalled store is then 504, not a hang. */
const DEFAULT_TIMEOUT_MS = 60_000;

/** Percent-encodes like SigV4's canonical URI: everything but A-Z a-z 0-9 - _ . ~. */
export function encodeRfc3986(text: string): string {
  return encodeURIComponent(text).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

/** A key as a URL path: each "/"-separated segment percent-encoded on its own. */
export function encodeKey(key: string): string {
  return key.split("/").map(encodeRfc3986).join("/");
}

/** The hex SHA-256 of `bytes`: a signed payload's `x-amz-content-sha256`. */
function sha256Hex(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** The binary MD5 of `bytes` (Content-MD5 sends it in base64). */
export function md5(bytes: Uint8Array): Uint8Array {
  return createHash("md5").update(bytes).digest();
}

function base64(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes));
}

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** An ETag with its quotes, whatever form the store gave it in. */
export function quoteETag(etag: string): string {
  return `"${unquoteETag(etag)}"`;
}

/** An ETag without its quotes. */
export function unquoteETag(etag: string): string {
  return etag.replace(/^"(.*)"$/, "$1");
}

/**
 * The conditional headers of a PutObject that must replace exactly
 * `currentETag` (or create the key when it is null): `If-None-Match: *`, or
 * `If-Match` with the ETag.
 *
 * RGW 16.2 QUIRK, handled here and only here: it compares `If-Match` with
 * the ETag *without* its quotes, so the quoted form HTTP (and AWS) writes
 * gets 412 even when it matches. The unquoted form matches on RGW; AWS
 * documents the quoted one (unquoted was not tried against AWS). Reads
 * (GetObject `If-Match`) and `x-amz-copy-if-match` take quotes fine.
 */
export function putConditionHeaders(currentETag: string | null): Record<string, string> {
  return currentETag === null ? { "If-None-Match": "*" } : { "If-Match": unquoteETag(currentETag) };
}

/**
 * Whether a conditional PutObject (headers of {@linkcode putConditionHeaders})
 * failed because the object changed since its ETag was read, or may have:
 * the caller must look again and judge its condition against what is there.
 *
 * - 412 PreconditionFailed: the ETag no longer matches (RGW and AWS);
 * - 404 NoSuchKey: AWS's answer to `If-Match` on a key deleted meanwhile
 *   (RGW answers 412);
 * - 409 ConditionalRequestConflict: AWS, two conditional writes at once;
 * - RGW 16.2 QUIRK: of two conditional PutObjects racing on one key, the
 *   loser usually gets **500 UnknownError** instead of 412 (84 of 100 rounds
 *   here; the other 16 got 412). A 500 on a conditional write is therefore
 *   treated as a possible lost race: looking again either finds the
 *   winner's version (and the condition decides) or the same version (and
 *   the write is tried again, a bounded number of times).
 */
export function conditionalWriteLost(error: unknown): boolean {
  return error instanceof S3Error &&
    (error.status === 412 || error.status === 409 || error.status === 500 ||
      (error.status === 404 && error.code === "NoSuchKey"));
}

/** The ETag S3 gives a multipart object: MD5 of the parts' binary MD5s, a dash, the part count. */
export function multipartETag(partDigests: readonly Uint8Array[]): string {
  const all = new Uint8Array(partDigests.length * 16);
  partDigests.forEach((digest, i) => all.set(digest, i * 16));
  return `"${hex(md5(all))}-${partDigests.length}"`;
}

/** An HTTP date or ISO timestamp in ms, floored to the second (HEAD has seconds; listings have ms). */
function parseTime(text: string | null | undefined): number {
  const ms = text ? Date.parse(text) : NaN;
  return Number.isNaN(ms) ? 0 : Math.floor(ms / 1000) * 1000;
}

/** The S3Error of a failed answer: the code and message of its error document, or of its status. */
function errorOf(operation: string, answer: BodyAnswer): S3Error {
  const code = xmlText(answer.text, "Code") ?? codeForStatus(answer.status);
  const message = xmlText(answer.text, "Message") ?? "";
  return new S3Error(
    answer.status,
    code,
    `${operation}: ${answer.status} ${code}${message === "" ? "" : ` (${message})`}`,
    answer.headers.get("retry-after") ?? undefined,
  );
}

/** The error code for an answer without a body (HEAD). */
function codeForStatus(status: number): string {
  switch (status) {
    case 403:
      return "AccessDenied";
    case 404:
      return "NoSuchKey";
    case 412:
      return "PreconditionFailed";
    case 503:
      return "SlowDown";
    default:
      return `Http${status}`;
  }
}

interface SendInit {
  headers?: Record<string, string>;
  /** Statuses that are not failures (default: 2xx). */
  accept?: (status: number) => boolean;
}

/** The answer to a request with a body: small (empty or an XML document), read whole. */
interface BodyAnswer {
  status: number;
  headers: Headers;
  text: string;
}

function isSuccess(status: number): boolean {
  return status >= 200 && status < 300;
}

/** Signed S3 requests against one bucket. */
export class S3Client {
  readonly #aws: AwsClient;
  readonly #bucket: string;
  readonly #endpoint: URL;
  readonly #pathStyle: boolean;
  readonly #timeoutMs: number;
  /** Keep-alive connections of the body transport, made on first use; closed by {@linkcode close}. */
  #agent: http.Agent | null = null;

  /** @param config endpoint, bucket, region, addressing and credentials */
  constructor(config: S3Config, options: { timeoutMs?: number } = {}) {
    this.#aws = new AwsClient({
      accessKeyId: config.credentials.accessKeyId,
      secretAccessKey: config.credentials.secretAccessKey,
      sessionToken: config.credentials.sessionToken,
      service: "s3",
      region: config.region,
      retries: 0,
    });
    this.#bucket = config.bucket;
    this.#endpoint = new URL(config.endpoint);
    this.#pathStyle = config.pathStyle;
    this.#timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  }

  /** The bucket's name. */
  get bucket(): string {
    return this.#bucket;
  }

  /** The URL of `key` ("" for the bucket itself) with a query of already-ordered pairs. */
  url(key: string, query: [string, string][] = []): string {
    const base = this.#endpoint.pathname.replace(/\/$/, "");
    const host = this.#pathStyle ? this.#endpoint.host : `${this.#bucket}.${this.#endpoint.host}`;
    const bucketPath = this.#pathStyle ? `${base}/${encodeRfc3986(this.#bucket)}` : base;
    const path = key === ""
      ? (this.#pathStyle ? bucketPath : `${base}/`)
      : `${bucketPath}/${encodeKey(key)}`;
    const search = query.length === 0
      ? ""
      : "?" + query.map(([name, value]) =>
        value === "" ? encodeRfc3986(name) : `${encodeRfc3986(name)}=${encodeRfc3986(value)}`
      ).join("&");
    return `${this.#endpoint.protocol}//${host}${path}${search}`;
  }

  /**
   * Signs and sends one request; resolves with the response once its head
   * arrived (the body is the caller's to read or cancel). Throws S3Error for
   * no answer, a timeout, or a status `accept` refuses (after reading the
   * error document).
   */
  async send(
    operation: string,
    method: string,
    url: string,
    init: SendInit = {},
  ): Promise<Response> {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), this.#timeoutMs);
    let response: Response;
    try {
      response = await this.#aws.fetch(url, {
        method,
        headers: init.headers,
        signal: controller.signal,
      });
    } catch (error) {
      if (controller.signal.aborted) {
        throw new S3Error(0, "Timeout", `${operation}: no answer within ${this.#timeoutMs} ms`);
      }
      // Deno's message names the URL (bucket and key, never a credential) and the OS error.
      const reason = error instanceof Error ? error.message : String(error);
      throw new S3Error(0, "Unreachable", `${operation}: ${reason}`);
    } finally {
      clearTimeout(timer);
    }
    if ((init.accept ?? isSuccess)(response.status)) return response;
    const text = method === "HEAD" ? "" : await response.text().catch(() => "");
    if (method === "HEAD") await response.body?.cancel();
    throw errorOf(operation, { status: response.status, headers: response.headers, text });
  }

  /**
   * Signs and sends one request with `body` through `node:http(s)` with its
   * Content-Length (see the module documentation for why not `fetch`), and
   * reads the (small) answer whole. Throws like {@linkcode send}. The body
   * is not used once this settles, so the caller may reuse its buffer.
   */
  async sendBody(
    operation: string,
    method: string,
    url: string,
    body: Uint8Array,
    init: SendInit = {},
  ): Promise<BodyAnswer> {
    // UNSIGNED-PAYLOAD unless the caller signs the body (x-amz-content-sha256).
    const signed = await this.#aws.sign(url, { method, headers: init.headers });
    const headers: Record<string, string> = {};
    signed.headers.forEach((value, name) => void (headers[name] = value));
    headers["content-length"] = String(body.length);
    const secure = url.startsWith("https:");
    this.#agent ??= secure
      ? new https.Agent({ keepAlive: true })
      : new http.Agent({ keepAlive: true });
    const answer = await new Promise<BodyAnswer>((resolve, reject) => {
      let timedOut = false;
      const options = { method, headers, agent: this.#agent! };
      const request = (secure ? https : http).request(signed.url, options, (response) => {
        const chunks: Uint8Array[] = [];
        response.on("data", (chunk: Uint8Array) => chunks.push(chunk));
        response.on("error", reject);
        response.on("end", () => {
          const answerHeaders = new Headers();
          for (const [name, value] of Object.entries(response.headers)) {
            if (value !== undefined) answerHeaders.set(name, String(value));
          }
          resolve({
            status: response.statusCode ?? 0,
            headers: answerHeaders,
            text: Buffer.concat(chunks).toString("utf8"),
          });
        });
      });
      request.setTimeout(this.#timeoutMs, () => {
        timedOut = true;
        request.destroy();
      });
      request.on("error", (error: Error) => {
        reject(
          timedOut
            ? new S3Error(0, "Timeout", `${operation}: no progress within ${this.#timeoutMs} ms`)
            : new S3Error(0, "Unreachable", `${operation}: ${error.message}`),
        );
      });
      request.end(body);
    });
    if ((init.accept ?? isSuccess)(answer.status)) return answer;
    throw errorOf(operation, answer);
  }

  /** Closes the kept-alive connections of the body transport (those of `fetch` are Deno's). */
  close(): void {
    this.#agent?.destroy();
    this.#agent = null;
  }

  /** A response body that is expected to be a (small) XML document, with S3's "200 but <Error>" case. */
  async #document(operation: string, response: Response | BodyAnswer): Promise<string> {
    const text = response instanceof Response ? await response.text() : response.text;
    if (/^\s*(<\?xml[^>]*>\s*)?<Error>/.test(text)) {
      const code = xmlText(text, "Code") ?? "InternalError";
      throw new S3Error(response.status, code, `${operation}: ${code} in a ${response.status}`);
    }
    return text;
  }

  /** ListObjectsV2 with `max-keys` 1 under `prefix`: fails with the store's error when the bucket is unusable. */
  async probe(prefix: string): Promise<void> {
    await this.listObjects({ prefix, maxKeys: 1 });
  }

  /** HeadObject: the object's size, ETag and Last-Modified, or null when there is none. */
  async headObject(key: string): Promise<ObjectInfo | null> {
    const response = await this.send("HeadObject", "HEAD", this.url(key), {
      accept: (status) => status === 200 || status === 404,
    });
    await response.body?.cancel();
    if (response.status === 404) return null;
    return this.#infoOf("HeadObject", response.headers);
  }

  #infoOf(operation: string, headers: Headers): ObjectInfo {
    const etag = headers.get("etag");
    const size = Number(headers.get("content-length"));
    if (etag === null || !Number.isSafeInteger(size)) {
      throw new S3Error(200, "InvalidResponse", `${operation}: no ETag or Content-Length`);
    }
    return { size, etag: quoteETag(etag), lastModified: parseTime(headers.get("last-modified")) };
  }

  /**
   * GetObject from byte `start` to the end, only while the object's ETag is
   * `etag` (412 otherwise): the response, whose body the caller reads or cancels.
   */
  async getObject(key: string, options: { start: number; etag: string }): Promise<Response> {
    const headers: Record<string, string> = { "If-Match": options.etag };
    if (options.start > 0) headers.Range = `bytes=${options.start}-`;
    const response = await this.send("GetObject", "GET", this.url(key), { headers });
    const expected = options.start > 0 ? 206 : 200;
    if (response.status !== expected) {
      await response.body?.cancel();
      throw new S3Error(response.status, "InvalidResponse", `GetObject: ${response.status}`);
    }
    return response;
  }

  /**
   * PutObject of a whole body, signed (see the module documentation), with
   * any extra headers (the conditions of {@linkcode putConditionHeaders}).
   * Resolves with the store's ETag for it and the store's Date (PutObject
   * has no Last-Modified).
   */
  async putObject(
    key: string,
    body: Uint8Array,
    headers: Record<string, string> = {},
  ): Promise<{ etag: string; date: number }> {
    const answer = await this.sendBody("PutObject", "PUT", this.url(key), body, {
      headers: { ...headers, "x-amz-content-sha256": sha256Hex(body) },
    });
    const etag = answer.headers.get("etag");
    if (etag === null) throw new S3Error(answer.status, "InvalidResponse", "PutObject: no ETag");
    return {
      etag: quoteETag(etag),
      date: parseTime(answer.headers.get("date")) || Date.now(),
    };
  }

  /** DeleteObject (204 whether or not the key existed). */
  async deleteObject(key: string): Promise<void> {
    const response = await this.send("DeleteObject", "DELETE", this.url(key));
    await response.body?.cancel();
  }

  /**
   * CopyObject `source` to `key` only while the source's ETag is
   * `sourceETag`. Sends RGW's own `x-amz-copy-if-match` (RGW 16.2 ignores
   * the AWS name) and AWS's `x-amz-copy-source-if-match`. Resolves with the
   * copy's ETag.
   */
  async copyObject(source: string, key: string, sourceETag: string): Promise<{ etag: string }> {
    const response = await this.send("CopyObject", "PUT", this.url(key), {
      headers: {
        "x-amz-copy-source": `/${encodeRfc3986(this.#bucket)}/${encodeKey(source)}`,
        "x-amz-metadata-directive": "COPY",
        "x-amz-copy-if-match": sourceETag,
        "x-amz-copy-source-if-match": sourceETag,
      },
    });
    const text = await this.#document("CopyObject", response);
    const etag = xmlText(text, "ETag");
    if (etag === undefined) throw new S3Error(200, "InvalidResponse", "CopyObject: no ETag");
    return { etag: quoteETag(etag) };
  }

  /** One page of ListObjectsV2. */
  async listObjects(options: {
    prefix: string;
    delimiter?: string;
    maxKeys?: number;
    token?: string | null;
    startAfter?: string | null;
  }): Promise<ListPage> {
    const query: [string, string][] = [["list-type", "2"]];
    if (options.token) query.push(["continuation-token", options.token]);
    if (options.delimiter !== undefined) query.push(["delimiter", options.delimiter]);
    if (options.maxKeys !== undefined) query.push(["max-keys", String(options.maxKeys)]);
    query.push(["prefix", options.prefix]);
    if (options.startAfter) query.push(["start-after", options.startAfter]);
    const response = await this.send("ListObjectsV2", "GET", this.url("", query));
    const text = await this.#document("ListObjectsV2", response);
    const objects = xmlElements(text, "Contents").map((block): ListedObject => ({
      key: xmlText(block, "Key") ?? "",
      size: Number(xmlText(block, "Size") ?? "0"),
      etag: quoteETag(xmlText(block, "ETag") ?? ""),
      lastModified: parseTime(xmlText(block, "LastModified")),
    }));
    const prefixes = xmlElements(text, "CommonPrefixes").map((block) =>
      xmlText(block, "Prefix") ?? ""
    );
    const truncated = xmlText(text, "IsTruncated") === "true";
    const nextToken = truncated ? xmlText(text, "NextContinuationToken") ?? null : null;
    if (truncated && nextToken === null) {
      throw new S3Error(200, "InvalidResponse", "ListObjectsV2: truncated without a token");
    }
    return { objects, prefixes, nextToken };
  }

  /** CreateMultipartUpload: the new upload's id. */
  async createMultipartUpload(key: string): Promise<string> {
    const response = await this.send(
      "CreateMultipartUpload",
      "POST",
      this.url(key, [["uploads", ""]]),
    );
    const uploadId = xmlText(await this.#document("CreateMultipartUpload", response), "UploadId");
    if (!uploadId) throw new S3Error(200, "InvalidResponse", "CreateMultipartUpload: no UploadId");
    return uploadId;
  }

  /** UploadPart with Content-MD5 (`digest` is the part's binary MD5): the part's ETag. */
  async uploadPart(
    key: string,
    uploadId: string,
    partNumber: number,
    body: Uint8Array,
    digest: Uint8Array,
  ): Promise<string> {
    const answer = await this.sendBody(
      "UploadPart",
      "PUT",
      this.url(key, [["partNumber", String(partNumber)], ["uploadId", uploadId]]),
      body,
      { headers: { "Content-MD5": base64(digest) } },
    );
    const etag = answer.headers.get("etag");
    if (etag === null) throw new S3Error(200, "InvalidResponse", "UploadPart: no ETag");
    return quoteETag(etag);
  }

  /**
   * CompleteMultipartUpload: the object's ETag, or null when the store's
   * answer has none (RGW 16.2 leaves `<ETag>` empty).
   */
  async completeMultipartUpload(
    key: string,
    uploadId: string,
    parts: readonly UploadedPart[],
  ): Promise<string | null> {
    const xml = "<CompleteMultipartUpload>" +
      parts.map((part) =>
        `<Part><PartNumber>${part.partNumber}</PartNumber>` +
        `<ETag>${escapeXmlText(part.etag)}</ETag></Part>`
      ).join("") + "</CompleteMultipartUpload>";
    const answer = await this.sendBody(
      "CompleteMultipartUpload",
      "POST",
      this.url(key, [["uploadId", uploadId]]),
      new TextEncoder().encode(xml),
    );
    // AWS may answer 200 and report the failure in the body.
    const etag = xmlText(await this.#document("CompleteMultipartUpload", answer), "ETag");
    return etag ? quoteETag(etag) : null;
  }

  /** AbortMultipartUpload; an upload already gone is not an error. */
  async abortMultipartUpload(key: string, uploadId: string): Promise<void> {
    const response = await this.send(
      "AbortMultipartUpload",
      "DELETE",
      this.url(key, [["uploadId", uploadId]]),
      { accept: (status) => (status >= 200 && status < 300) || status === 404 },
    );
    await response.body?.cancel();
  }

  /**
   * ListParts of an upload, every page: number, ETag and size of each part,
   * in order; null when the upload is gone (completed or aborted).
   */
  async listParts(key: string, uploadId: string): Promise<ListedPart[] | null> {
    const parts: ListedPart[] = [];
    let marker = "0";
    for (;;) {
      const response = await this.send(
        "ListParts",
        "GET",
        this.url(key, [["part-number-marker", marker], ["uploadId", uploadId]]),
        { accept: (status) => isSuccess(status) || status === 404 },
      );
      if (response.status === 404) {
        await response.body?.cancel();
        return null;
      }
      const text = await this.#document("ListParts", response);
      for (const block of xmlElements(text, "Part")) {
        parts.push({
          partNumber: Number(xmlText(block, "PartNumber") ?? "0"),
          etag: quoteETag(xmlText(block, "ETag") ?? ""),
          size: Number(xmlText(block, "Size") ?? "0"),
        });
      }
      if (xmlText(text, "IsTruncated") !== "true") return parts;
      const next = xmlText(text, "NextPartNumberMarker");
      if (!next || next === marker) {
        throw new S3Error(200, "InvalidResponse", "ListParts: truncated without a marker");
      }
      marker = next;
    }
  }

  /** GetObject of a whole (small) object: its bytes and ETag, or null when there is none. */
  async getObjectBytes(key: string): Promise<{ bytes: Uint8Array; etag: string } | null> {
    const response = await this.send("GetObject", "GET", this.url(key), {
      accept: (status) => status === 200 || status === 404,
    });
    if (response.status === 404) {
      await response.body?.cancel();
      return null;
    }
    const etag = response.headers.get("etag");
    const bytes = new Uint8Array(await response.arrayBuffer());
    if (etag === null) throw new S3Error(200, "InvalidResponse", "GetObject: no ETag");
    return { bytes, etag: quoteETag(etag) };
  }

  /** ListMultipartUploads under `prefix` (first page, up to 1000): key, id and start time of each. */
  async listMultipartUploads(
    prefix: string,
  ): Promise<{ key: string; uploadId: string; initiated: number }[]> {
    const response = await this.send(
      "ListMultipartUploads",
      "GET",
      this.url("", [["prefix", prefix], ["uploads", ""]]),
    );
    const text = await this.#document("ListMultipartUploads", response);
    return xmlElements(text, "Upload").map((block) => ({
      key: xmlText(block, "Key") ?? "",
      uploadId: xmlText(block, "UploadId") ?? "",
      initiated: parseTime(xmlText(block, "Initiated")),
    }));
  }
}
