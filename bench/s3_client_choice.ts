/**
 * Chooses the S3 client for the object-store backend (issue 13) by
 * measurement: `@aws-sdk/client-s3` (v3) against `aws4fetch` over Deno's
 * `fetch`, both against a real RADOS Gateway (see scripts/ceph.ts).
 *
 * Usage:
 *
 *     deno task ceph:up && . /tmp/filedrop-ceph/env
 *     deno run --allow-all bench/s3_client_choice.ts [--startup-runs 5] [--rounds 3]
 *         [--put-reps 20] [--get-reps 8] [--small-reps 40] [--json FILE]
 *     deno task ceph:down
 *
 * It reads AWS_ENDPOINT_URL_S3, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
 * AWS_REGION and FILEDROP_S3_TEST_BUCKET. Every measurement runs in a child
 * process of its own (this script again, with `--child CLIENT`), one client
 * per process, so one client's modules and heap never weigh on the other's
 * figures:
 *
 * - start-up: Deno's boot to the module's first line, the client's dynamic
 *   import, the first HeadBucket (each `--startup-runs` times, after one
 *   unrecorded warm-up per client, interleaved), beside a "baseline" process
 *   that imports nothing and sends one unsigned `fetch`;
 * - RSS after a handful of calls, and VmHWM (peak) after the throughput runs;
 * - latency of PutObject 1 KiB and HeadObject, and this process's CPU time
 *   per such call (the client's own overhead, which the gateway's noisy
 *   latency does not blur);
 * - PutObject of 1 MiB from memory and GetObject of 16 MiB read to the end
 *   as a web stream (the form the server would pipe to a response);
 * - a list of behaviour checks (conditional writes, multipart, ranges,
 *   listing, copy, delete, checksums) with what AWS S3 documents and what
 *   the gateway did.
 *
 * `--allow-all` because RSS comes from /proc/self/status, which Deno opens
 * only with all permissions. Linux only. Objects go under
 * `s3-client-choice/<client>-<pid>/` and are removed at the end.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { createHash } from "node:crypto";
import process from "node:process";
import { Readable } from "node:stream";
import { parseArgs } from "node:util";

type ClientName = "aws-sdk" | "aws4fetch" | "baseline";
const CLIENTS: ClientName[] = ["aws-sdk", "aws4fetch"];

interface Env {
  endpoint: string;
  accessKeyId: string;
  secretAccessKey: string;
  region: string;
  bucket: string;
}

function readEnv(): Env {
  const get = (name: string): string => {
    const value = Deno.env.get(name);
    if (value === undefined || value === "") {
      throw new Error(`${name} is not set: run 'deno task ceph:up' and source its env file`);
    }
    return value;
  };
  return {
    endpoint: get("AWS_ENDPOINT_URL_S3").replace(/\/$/, ""),
    accessKeyId: get("AWS_ACCESS_KEY_ID"),
    secretAccessKey: get("AWS_SECRET_ACCESS_KEY"),
    region: Deno.env.get("AWS_REGION") ?? "us-east-1",
    bucket: get("FILEDROP_S3_TEST_BUCKET"),
  };
}

// ---------------------------------------------------------------------------
// One interface over both clients: what the checks and timings need.

/** The outcome of one request: HTTP status, S3 error code when it failed, a few headers. */
interface Result {
  status: number;
  code?: string;
  etag?: string;
  contentRange?: string;
  bytes?: number;
  body?: Uint8Array;
}

interface PutOptions {
  ifMatch?: string;
  ifNoneMatch?: string;
  contentMd5?: string;
  checksumSha256?: string;
  /** aws4fetch only: the x-amz-content-sha256 value to sign and send (a real or a wrong hash). */
  payloadSha256?: string;
}

interface ListPage {
  status: number;
  keys: string[];
  prefixes: string[];
  next?: string;
}

interface S3Ops {
  headBucket(): Promise<Result>;
  put(key: string, body: Uint8Array, options?: PutOptions): Promise<Result>;
  /** PutObject from a web stream of known length. */
  putStream(key: string, body: ReadableStream<Uint8Array>, length: number): Promise<Result>;
  head(key: string): Promise<Result>;
  /** GetObject read to the end; `keep` keeps the bytes (else only counts them). */
  get(
    key: string,
    options?: { range?: string; ifMatch?: string; ifNoneMatch?: string; keep?: boolean },
  ): Promise<Result>;
  createMultipart(key: string): Promise<{ status: number; uploadId?: string; code?: string }>;
  uploadPart(
    key: string,
    uploadId: string,
    partNumber: number,
    body: Uint8Array,
    options?: PutOptions,
  ): Promise<Result>;
  complete(
    key: string,
    uploadId: string,
    parts: { partNumber: number; etag: string }[],
    options?: { ifMatch?: string; ifNoneMatch?: string },
  ): Promise<Result>;
  abort(key: string, uploadId: string): Promise<Result>;
  listUploads(
    prefix: string,
  ): Promise<{ status: number; uploads: { key: string; uploadId: string }[] }>;
  list(prefix: string, delimiter?: string, maxKeys?: number, token?: string): Promise<ListPage>;
  copy(
    source: string,
    key: string,
    options?: { copySourceIfMatch?: string; headers?: Record<string, string> },
  ): Promise<Result>;
  delete(key: string, options?: { ifMatch?: string }): Promise<Result>;
}

const unquote = (etag: string): string => etag.replace(/^"(.*)"$/, "$1");
const quote = (etag: string): string => `"${unquote(etag)}"`;

// --- @aws-sdk/client-s3 ---

async function makeSdkOps(env: Env): Promise<S3Ops> {
  const s3 = await import("@aws-sdk/client-s3");
  const client = new s3.S3Client({
    endpoint: env.endpoint,
    region: env.region,
    credentials: { accessKeyId: env.accessKeyId, secretAccessKey: env.secretAccessKey },
    forcePathStyle: true,
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
    maxAttempts: 1,
  });
  const Bucket = env.bucket;
  /** Runs a command; an S3 error becomes a Result instead of a throw. */
  async function call<T>(run: () => Promise<T>, ok: (output: T) => Result): Promise<Result> {
    try {
      return ok(await run());
    } catch (err) {
      const e = err as { $metadata?: { httpStatusCode?: number }; name?: string; Code?: string };
      const status = e.$metadata?.httpStatusCode;
      if (status === undefined) throw err;
      return { status, code: e.Code ?? e.name };
    }
  }
  const status = (output: { $metadata: { httpStatusCode?: number } }): number =>
    output.$metadata.httpStatusCode ?? 0;
  return {
    headBucket: () =>
      call(() => client.send(new s3.HeadBucketCommand({ Bucket })), (o) => ({ status: status(o) })),
    put: (Key, Body, options = {}) =>
      call(
        () =>
          client.send(
            new s3.PutObjectCommand({
              Bucket,
              Key,
              Body,
              IfMatch: options.ifMatch,
              IfNoneMatch: options.ifNoneMatch,
              ContentMD5: options.contentMd5,
              ChecksumSHA256: options.checksumSha256,
            }),
          ),
        (o) => ({ status: status(o), etag: o.ETag }),
      ),
    putStream: (Key, body, length) =>
      call(
        () =>
          client.send(
            new s3.PutObjectCommand({
              Bucket,
              Key,
              // Under Deno the SDK uses its Node HTTP handler, which takes Node streams only.
              Body: Readable.fromWeb(body as Parameters<typeof Readable.fromWeb>[0]),
              ContentLength: length,
            }),
          ),
        (o) => ({ status: status(o), etag: o.ETag }),
      ),
    head: (Key) =>
      call(
        () => client.send(new s3.HeadObjectCommand({ Bucket, Key })),
        (o) => ({ status: status(o), etag: o.ETag, bytes: o.ContentLength }),
      ),
    get: async (Key, options = {}) => {
      let stream: ReadableStream<Uint8Array> | undefined;
      const result = await call(
        () =>
          client.send(
            new s3.GetObjectCommand({
              Bucket,
              Key,
              Range: options.range,
              IfMatch: options.ifMatch,
              IfNoneMatch: options.ifNoneMatch,
            }),
          ),
        (o) => {
          stream = o.Body?.transformToWebStream() as ReadableStream<Uint8Array> | undefined;
          return { status: status(o), etag: o.ETag, contentRange: o.ContentRange };
        },
      );
      if (stream !== undefined) Object.assign(result, await drain(stream, options.keep));
      return result;
    },
    createMultipart: async (Key) => {
      let uploadId: string | undefined;
      const result = await call(
        () => client.send(new s3.CreateMultipartUploadCommand({ Bucket, Key })),
        (o) => {
          uploadId = o.UploadId;
          return { status: status(o) };
        },
      );
      return { ...result, uploadId };
    },
    uploadPart: (Key, UploadId, PartNumber, Body, options = {}) =>
      call(
        () =>
          client.send(
            new s3.UploadPartCommand({
              Bucket,
              Key,
              UploadId,
              PartNumber,
              Body,
              ContentMD5: options.contentMd5,
              ChecksumSHA256: options.checksumSha256,
            }),
          ),
        (o) => ({ status: status(o), etag: o.ETag }),
      ),
    complete: (Key, UploadId, parts, options = {}) =>
      call(
        () =>
          client.send(
            new s3.CompleteMultipartUploadCommand({
              Bucket,
              Key,
              UploadId,
              MultipartUpload: {
                Parts: parts.map((p) => ({ PartNumber: p.partNumber, ETag: p.etag })),
              },
              IfMatch: options.ifMatch,
              IfNoneMatch: options.ifNoneMatch,
            }),
          ),
        (o) => ({ status: status(o), etag: o.ETag }),
      ),
    abort: (Key, UploadId) =>
      call(
        () => client.send(new s3.AbortMultipartUploadCommand({ Bucket, Key, UploadId })),
        (o) => ({ status: status(o) }),
      ),
    listUploads: async (Prefix) => {
      const o = await client.send(new s3.ListMultipartUploadsCommand({ Bucket, Prefix }));
      return {
        status: status(o),
        uploads: (o.Uploads ?? []).map((u) => ({ key: u.Key ?? "", uploadId: u.UploadId ?? "" })),
      };
    },
    list: async (Prefix, Delimiter, MaxKeys, ContinuationToken) => {
      const o = await client.send(
        new s3.ListObjectsV2Command({ Bucket, Prefix, Delimiter, MaxKeys, ContinuationToken }),
      );
      return {
        status: status(o),
        keys: (o.Contents ?? []).map((c) => c.Key ?? ""),
        prefixes: (o.CommonPrefixes ?? []).map((c) => c.Prefix ?? ""),
        next: o.IsTruncated ? o.NextContinuationToken : undefined,
      };
    },
    copy: (source, Key, options = {}) =>
      call(
        () =>
          client.send(
            new s3.CopyObjectCommand({
              Bucket,
              Key,
              CopySource: `${Bucket}/${encodeKey(source)}`,
              CopySourceIfMatch: options.copySourceIfMatch,
            }),
          ),
        (o) => ({ status: status(o), etag: o.CopyObjectResult?.ETag }),
      ),
    delete: (Key, options = {}) =>
      call(
        () => client.send(new s3.DeleteObjectCommand({ Bucket, Key, IfMatch: options.ifMatch })),
        (o) => ({ status: status(o) }),
      ),
  };
}

// --- aws4fetch over fetch ---

function encodeKey(key: string): string {
  return key.split("/").map(encodeURIComponent).join("/");
}

function decodeXml(text: string): string {
  return text.replace(/&(lt|gt|amp|quot|apos|#\d+|#x[0-9a-fA-F]+);/g, (_, entity: string) => {
    switch (entity) {
      case "lt":
        return "<";
      case "gt":
        return ">";
      case "amp":
        return "&";
      case "quot":
        return '"';
      case "apos":
        return "'";
      default:
        return String.fromCodePoint(
          entity[1] === "x" ? parseInt(entity.slice(2), 16) : Number(entity.slice(1)),
        );
    }
  });
}

/** The decoded texts of every `<name>...</name>` in `xml` (flat: no nesting of the same name). */
function xmlAll(xml: string, name: string): string[] {
  const out: string[] = [];
  const re = new RegExp(`<${name}>([\\s\\S]*?)</${name}>`, "g");
  for (const match of xml.matchAll(re)) out.push(match[1]);
  return out;
}
function xmlText(xml: string, name: string): string | undefined {
  const found = xmlAll(xml, name)[0];
  return found === undefined ? undefined : decodeXml(found);
}

async function makeAws4fetchOps(
  env: Env,
): Promise<S3Ops & { putStreamNode: S3Ops["putStream"] }> {
  const { AwsClient } = await import("aws4fetch");
  const aws = new AwsClient({
    accessKeyId: env.accessKeyId,
    secretAccessKey: env.secretAccessKey,
    service: "s3",
    region: env.region,
    retries: 0,
  });
  const base = `${env.endpoint}/${env.bucket}`;
  const url = (key: string, query = ""): string =>
    `${base}/${encodeKey(key)}${query === "" ? "" : `?${query}`}`;

  /** Sends, reads the body (errors and XML answers are small), returns status and text. */
  async function send(
    target: string,
    init: RequestInit & { headers?: Record<string, string> },
  ): Promise<{ response: Response; text: string; result: Result }> {
    const response = await aws.fetch(target, init);
    const text = await response.text();
    const result: Result = { status: response.status };
    const etag = response.headers.get("etag");
    if (etag !== null) result.etag = etag;
    if (!response.ok) result.code = xmlText(text, "Code");
    return { response, text, result };
  }
  const conditions = (options: PutOptions): Record<string, string> => {
    const headers: Record<string, string> = {};
    if (options.ifMatch !== undefined) headers["if-match"] = options.ifMatch;
    if (options.ifNoneMatch !== undefined) headers["if-none-match"] = options.ifNoneMatch;
    if (options.contentMd5 !== undefined) headers["content-md5"] = options.contentMd5;
    if (options.checksumSha256 !== undefined) {
      headers["x-amz-checksum-sha256"] = options.checksumSha256;
    }
    if (options.payloadSha256 !== undefined) {
      headers["x-amz-content-sha256"] = options.payloadSha256;
    }
    return headers;
  };

  /**
   * PutObject from a web stream of known length through node:http: Deno's fetch sends a stream
   * body chunked (no Content-Length), which S3 and RGW refuse with 411. aws4fetch only signs.
   */
  const putStreamNode = async (
    key: string,
    body: ReadableStream<Uint8Array>,
    length: number,
  ): Promise<Result> => {
    const signed = await aws.sign(url(key), { method: "PUT" });
    const headers: Record<string, string> = { "content-length": String(length) };
    signed.headers.forEach((value, name) => headers[name] = value);
    const { request } = await import("node:http");
    return await new Promise<Result>((resolve, reject) => {
      const req = request(signed.url, { method: "PUT", headers }, (res) => {
        const chunks: Uint8Array[] = [];
        res.on("data", (chunk: Uint8Array) => chunks.push(chunk));
        res.on("end", () => {
          const text = new TextDecoder().decode(Buffer.concat(chunks));
          const status = res.statusCode ?? 0;
          const etag = res.headers.etag;
          resolve({
            status,
            etag: typeof etag === "string" ? etag : undefined,
            code: status >= 300 ? xmlText(text, "Code") : undefined,
          });
        });
        res.on("error", reject);
      });
      req.on("error", reject);
      Readable.fromWeb(body as Parameters<typeof Readable.fromWeb>[0]).pipe(req);
    });
  };

  return {
    putStreamNode,
    headBucket: async () => (await send(base, { method: "HEAD" })).result,
    put: async (key, body, options = {}) =>
      (await send(url(key), {
        method: "PUT",
        body: body as BodyInit,
        headers: conditions(options),
      }))
        .result,
    putStream: async (key, body, length) =>
      (await send(url(key), {
        method: "PUT",
        body,
        // Deno's fetch sends a stream body chunked and drops this header: the gateway must
        // accept a PUT without Content-Length (AWS itself answers 411).
        headers: { "content-length": String(length) },
      })).result,
    head: async (key) => {
      const response = await aws.fetch(url(key), { method: "HEAD" });
      await response.body?.cancel();
      if (!response.ok) return { status: response.status };
      return {
        status: response.status,
        etag: response.headers.get("etag") ?? undefined,
        bytes: Number(response.headers.get("content-length")),
      };
    },
    get: async (key, options = {}) => {
      const headers: Record<string, string> = {};
      if (options.range !== undefined) headers.range = options.range;
      if (options.ifMatch !== undefined) headers["if-match"] = options.ifMatch;
      if (options.ifNoneMatch !== undefined) headers["if-none-match"] = options.ifNoneMatch;
      const response = await aws.fetch(url(key), { headers });
      const result: Result = {
        status: response.status,
        etag: response.headers.get("etag") ?? undefined,
        contentRange: response.headers.get("content-range") ?? undefined,
      };
      if (!response.ok) {
        result.code = xmlText(await response.text(), "Code");
        return result;
      }
      if (response.body !== null) Object.assign(result, await drain(response.body, options.keep));
      return result;
    },
    createMultipart: async (key) => {
      const { text, result } = await send(url(key, "uploads"), { method: "POST" });
      return { ...result, uploadId: xmlText(text, "UploadId") };
    },
    uploadPart: async (key, uploadId, partNumber, body, options = {}) =>
      (await send(
        url(key, `partNumber=${partNumber}&uploadId=${encodeURIComponent(uploadId)}`),
        { method: "PUT", body: body as BodyInit, headers: conditions(options) },
      )).result,
    complete: async (key, uploadId, parts, options = {}) => {
      const xml = `<CompleteMultipartUpload>${
        parts.map((p) =>
          `<Part><PartNumber>${p.partNumber}</PartNumber><ETag>${p.etag}</ETag></Part>`
        ).join("")
      }</CompleteMultipartUpload>`;
      const { text, result } = await send(url(key, `uploadId=${encodeURIComponent(uploadId)}`), {
        method: "POST",
        body: xml,
        headers: conditions(options),
      });
      // Complete can fail with 200 and an <Error> body; the ETag is in the XML.
      if (result.status === 200 && xmlText(text, "Code") !== undefined) {
        return { status: 200, code: xmlText(text, "Code") };
      }
      return { ...result, etag: xmlText(text, "ETag") };
    },
    abort: async (key, uploadId) =>
      (await send(url(key, `uploadId=${encodeURIComponent(uploadId)}`), { method: "DELETE" }))
        .result,
    listUploads: async (prefix) => {
      const { text, result } = await send(
        `${base}?uploads&prefix=${encodeURIComponent(prefix)}`,
        {},
      );
      return {
        status: result.status,
        uploads: xmlAll(text, "Upload").map((u) => ({
          key: xmlText(u, "Key") ?? "",
          uploadId: xmlText(u, "UploadId") ?? "",
        })),
      };
    },
    list: async (prefix, delimiter, maxKeys, token) => {
      const query = new URLSearchParams({ "list-type": "2", prefix });
      if (delimiter !== undefined) query.set("delimiter", delimiter);
      if (maxKeys !== undefined) query.set("max-keys", String(maxKeys));
      if (token !== undefined) query.set("continuation-token", token);
      const { text, result } = await send(`${base}?${query}`, {});
      return {
        status: result.status,
        keys: xmlAll(text, "Contents").map((c) => xmlText(c, "Key") ?? ""),
        prefixes: xmlAll(text, "CommonPrefixes").map((c) => xmlText(c, "Prefix") ?? ""),
        next: xmlText(text, "IsTruncated") === "true"
          ? xmlText(text, "NextContinuationToken")
          : undefined,
      };
    },
    copy: async (source, key, options = {}) => {
      const headers: Record<string, string> = {
        "x-amz-copy-source": `/${env.bucket}/${encodeKey(source)}`,
      };
      if (options.copySourceIfMatch !== undefined) {
        headers["x-amz-copy-source-if-match"] = options.copySourceIfMatch;
      }
      Object.assign(headers, options.headers);
      const { text, result } = await send(url(key), { method: "PUT", headers });
      return { ...result, etag: xmlText(text, "ETag") ?? result.etag };
    },
    delete: async (key, options = {}) =>
      (await send(url(key), {
        method: "DELETE",
        headers: options.ifMatch === undefined ? {} : { "if-match": options.ifMatch },
      })).result,
  };
}

/** Reads a stream to the end: the byte count, and the bytes when `keep`. */
async function drain(
  stream: ReadableStream<Uint8Array>,
  keep = false,
): Promise<{ bytes: number; body?: Uint8Array }> {
  let bytes = 0;
  const chunks: Uint8Array[] = [];
  for await (const chunk of stream) {
    bytes += chunk.byteLength;
    if (keep) chunks.push(chunk);
  }
  if (!keep) return { bytes };
  const body = new Uint8Array(bytes);
  let offset = 0;
  for (const chunk of chunks) {
    body.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return { bytes, body };
}

// ---------------------------------------------------------------------------
// Child process: one client.

async function rss(): Promise<{ rssMiB: number; hwmMiB: number }> {
  const status = await Deno.readTextFile("/proc/self/status");
  const field = (name: string): number =>
    Number(new RegExp(`^${name}:\\s+(\\d+) kB$`, "m").exec(status)?.[1] ?? NaN) / 1024;
  return { rssMiB: round(field("VmRSS")), hwmMiB: round(field("VmHWM")) };
}

function round(value: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

function randomBytes(size: number): Uint8Array {
  const bytes = new Uint8Array(size);
  for (let offset = 0; offset < size; offset += 65536) {
    crypto.getRandomValues(bytes.subarray(offset, Math.min(size, offset + 65536)));
  }
  return bytes;
}

const md5Base64 = (data: Uint8Array): string => createHash("md5").update(data).digest("base64");
const sha256Base64 = (data: Uint8Array): string =>
  createHash("sha256").update(data).digest("base64");
const sha256Hex = (data: Uint8Array): string => createHash("sha256").update(data).digest("hex");

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
}

/** "min-max" of a list of milliseconds. */
function range(values: number[]): string {
  return `${Math.round(Math.min(...values))}-${Math.round(Math.max(...values))}`;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

interface Check {
  name: string;
  /** What AWS S3 documents for this request. */
  aws: string;
  /** What the gateway answered (status and error code). */
  got: string;
  /** Whether `got` is what a storage layer could rely on (same as AWS); null for plain facts. */
  asAws: boolean | null;
}

function show(result: { status: number; code?: string }): string {
  return result.code === undefined ? String(result.status) : `${result.status} ${result.code}`;
}

async function runChecks(ops: S3Ops, prefix: string): Promise<Check[]> {
  const checks: Check[] = [];
  const add = (name: string, aws: string, got: string, asAws: boolean | null): void => {
    checks.push({ name, aws, got, asAws });
  };
  const body = new TextEncoder().encode("hello, rados gateway\n");
  const key = `${prefix}cond.txt`;

  // PutObject conditionals.
  const first = await ops.put(key, body);
  const etag = first.etag ?? "";
  add("PutObject ETag form", '"<md5 hex>" (quoted)', etag, /^"[0-9a-f]{32}"$/.test(etag));
  let r = await ops.put(key, body, { ifNoneMatch: "*" });
  add("PutObject If-None-Match: * on an existing key", "412", show(r), r.status === 412);
  r = await ops.put(`${prefix}new.txt`, body, { ifNoneMatch: "*" });
  add("PutObject If-None-Match: * on a new key", "200", show(r), r.status === 200);
  r = await ops.put(key, body, { ifMatch: quote(etag) });
  add("PutObject If-Match: quoted current ETag", "200", show(r), r.status === 200);
  r = await ops.put(key, body, { ifMatch: unquote(etag) });
  add("PutObject If-Match: unquoted current ETag", "200", show(r), r.status === 200);
  r = await ops.put(key, body, { ifMatch: '"0123456789abcdef0123456789abcdef"' });
  add("PutObject If-Match: stale ETag (quoted)", "412", show(r), r.status === 412);
  r = await ops.put(key, body, { ifMatch: "0123456789abcdef0123456789abcdef" });
  add("PutObject If-Match: stale ETag (unquoted)", "412", show(r), r.status === 412);
  r = await ops.put(`${prefix}absent.txt`, body, { ifMatch: unquote(etag) });
  add("PutObject If-Match on a missing key", "404 NoSuchKey", show(r), r.status === 404);

  // Integrity headers on PutObject.
  const wrongMd5 = md5Base64(new TextEncoder().encode("something else"));
  r = await ops.put(key, body, { contentMd5: md5Base64(body) });
  add("PutObject Content-MD5 right", "200", show(r), r.status === 200);
  r = await ops.put(key, body, { contentMd5: wrongMd5 });
  add("PutObject Content-MD5 wrong", "400 BadDigest", show(r), r.status === 400);
  r = await ops.put(key, body, { checksumSha256: sha256Base64(body) });
  add("PutObject x-amz-checksum-sha256 right", "200", show(r), r.status === 200);
  r = await ops.put(key, body, { checksumSha256: sha256Base64(new Uint8Array(1)) });
  add("PutObject x-amz-checksum-sha256 wrong", "400 BadDigest", show(r), r.status === 400);

  // GetObject conditionals and ranges.
  r = await ops.get(key, { ifNoneMatch: quote(etag) });
  add("GetObject If-None-Match: quoted current ETag", "304", show(r), r.status === 304);
  r = await ops.get(key, { ifMatch: quote(etag) });
  add("GetObject If-Match: quoted current ETag", "200", show(r), r.status === 200);
  r = await ops.get(key, { ifMatch: '"0123456789abcdef0123456789abcdef"' });
  add("GetObject If-Match: stale ETag", "412", show(r), r.status === 412);
  r = await ops.get(key, { range: "bytes=1-1", keep: true });
  const text = new TextDecoder().decode(r.body);
  add(
    "GetObject Range bytes=1-1",
    `206, Content-Range bytes 1-1/${body.length}, "e"`,
    `${show(r)}, ${r.contentRange}, ${JSON.stringify(text)}`,
    r.status === 206 && r.contentRange === `bytes 1-1/${body.length}` && text === "e",
  );
  r = await ops.get(key, { range: "bytes=-5", keep: true });
  add(
    "GetObject Range bytes=-5 (suffix)",
    `206, bytes ${body.length - 5}-${body.length - 1}/${body.length}`,
    `${show(r)}, ${r.contentRange}, ${r.bytes} bytes`,
    r.status === 206 && r.bytes === 5,
  );
  r = await ops.get(key, { range: `bytes=${body.length + 10}-` });
  add("GetObject Range past the end", "416 InvalidRange", show(r), r.status === 416);

  // Streamed PutObject (web stream in).
  const streamed = randomBytes(1024 * 1024);
  r = await ops.putStream(
    `${prefix}streamed.bin`,
    new Blob([streamed as BlobPart]).stream(),
    streamed.length,
  );
  const streamedHead = await ops.head(`${prefix}streamed.bin`);
  add(
    "PutObject 1 MiB from a web ReadableStream",
    "200",
    `${show(r)}, ${streamedHead.status === 200 ? `${streamedHead.bytes} bytes` : "nothing"} stored`,
    r.status === 200 && streamedHead.bytes === streamed.length,
  );

  // Multipart upload. RGW 16.2 refuses a Complete that leaves out an uploaded part, so each
  // question gets an upload of its own.
  const mpKey = `${prefix}multipart.bin`;
  const part1 = randomBytes(5 * 1024 * 1024);
  const part2 = randomBytes(1000);
  const mpSize = part1.length + part2.length;
  const stale = '"0123456789abcdef0123456789abcdef"';
  /** Creates an upload of `mpKey` with the given parts; returns its id and the parts' ETags. */
  const upload = async (bodies: Uint8Array[]) => {
    const created = await ops.createMultipart(mpKey);
    const uploadId = created.uploadId ?? "";
    const parts = [];
    for (const [i, part] of bodies.entries()) {
      const r = await ops.uploadPart(mpKey, uploadId, i + 1, part);
      parts.push({ partNumber: i + 1, etag: r.etag ?? "" });
    }
    return { uploadId, parts };
  };

  // Integrity of parts.
  const integrity = await ops.createMultipart(`${prefix}integrity.bin`);
  const integrityId = integrity.uploadId ?? "";
  r = await ops.uploadPart(`${prefix}integrity.bin`, integrityId, 1, part2, {
    contentMd5: md5Base64(part2),
  });
  add("UploadPart Content-MD5 right", "200", show(r), r.status === 200);
  r = await ops.uploadPart(`${prefix}integrity.bin`, integrityId, 2, part2, {
    contentMd5: wrongMd5,
  });
  add("UploadPart Content-MD5 wrong", "400 BadDigest", show(r), r.status === 400);
  r = await ops.uploadPart(`${prefix}integrity.bin`, integrityId, 2, part2, {
    checksumSha256: sha256Base64(new Uint8Array(1)),
  });
  add(
    "UploadPart x-amz-checksum-sha256 wrong",
    "400 (BadDigest, or InvalidRequest without a checksum algorithm at Create)",
    show(r),
    r.status === 400,
  );
  const uploads = await ops.listUploads(prefix);
  add(
    "ListMultipartUploads shows the open upload",
    "it is listed",
    `${show(uploads)}, listed: ${uploads.uploads.some((u) => u.uploadId === integrityId)}`,
    uploads.uploads.some((u) => u.uploadId === integrityId),
  );
  // Parts 1 and 2 exist now (2 from the unchecked checksum); complete with part 1 only.
  const partial = await ops.complete(`${prefix}integrity.bin`, integrityId, [{
    partNumber: 1,
    etag: `"${createHash("md5").update(part2).digest("hex")}"`,
  }]);
  add(
    "CompleteMultipartUpload listing part 1 of 2 uploaded parts",
    "200 (parts left out are discarded)",
    show(partial),
    partial.status === 200,
  );
  r = await ops.abort(`${prefix}integrity.bin`, integrityId);

  // Conditional Complete while the key does not exist yet.
  const whole = await upload([part1, part2]);
  r = await ops.complete(mpKey, whole.uploadId, whole.parts, { ifMatch: stale });
  const afterMissing = await ops.head(mpKey);
  add(
    "CompleteMultipartUpload If-Match on a missing key",
    "404 NoSuchKey (conditional Complete, AWS 2024), nothing written",
    `${show(r)}, HEAD then ${show(afterMissing)}`,
    (r.status === 404 || r.status === 412) && afterMissing.status === 404,
  );
  const done = r.status === 200 ? r : await ops.complete(mpKey, whole.uploadId, whole.parts);
  const mpHead = await ops.head(mpKey);
  add(
    "CompleteMultipartUpload (5 MiB + 1000 B parts)",
    `200, size ${mpSize}`,
    `${show(done)}, size ${mpHead.bytes}`,
    done.status === 200 && mpHead.bytes === mpSize,
  );
  add(
    "  ... ETag in the Complete answer / from HEAD",
    '"<hex>-2" in both',
    `${JSON.stringify(done.etag ?? null)} / ${mpHead.etag}`,
    done.etag === mpHead.etag && /-2"$/.test(mpHead.etag ?? ""),
  );

  // The key now exists: If-None-Match: * on Complete must give 412 and keep the object.
  const second = await upload([part2]);
  r = await ops.complete(mpKey, second.uploadId, second.parts, { ifNoneMatch: "*" });
  const afterIfNoneMatch = await ops.head(mpKey);
  add(
    "CompleteMultipartUpload If-None-Match: * on an existing key",
    `412 PreconditionFailed (AWS 2024), object kept (${mpSize} bytes)`,
    `${show(r)}, object then ${afterIfNoneMatch.bytes} bytes`,
    r.status === 412 && afterIfNoneMatch.bytes === mpSize,
  );
  if (r.status !== 200) await ops.abort(mpKey, second.uploadId);

  const third = await upload([randomBytes(999)]);
  const before = await ops.head(mpKey);
  r = await ops.complete(mpKey, third.uploadId, third.parts, { ifMatch: stale });
  const afterStale = await ops.head(mpKey);
  add(
    "CompleteMultipartUpload If-Match: stale ETag",
    "412 PreconditionFailed (AWS 2024), object kept",
    `${show(r)}, object ${afterStale.etag === before.etag ? "kept" : "replaced"}`,
    r.status === 412 && afterStale.etag === before.etag,
  );
  if (r.status !== 200) await ops.abort(mpKey, third.uploadId);

  // Abort.
  const fourth = await ops.createMultipart(`${prefix}aborted.bin`);
  r = await ops.abort(`${prefix}aborted.bin`, fourth.uploadId ?? "");
  const afterAbort = await ops.listUploads(`${prefix}aborted.bin`);
  add(
    "AbortMultipartUpload, then ListMultipartUploads",
    "204, none left",
    `${show(r)}, ${afterAbort.uploads.length} left`,
    r.status === 204 && afterAbort.uploads.length === 0,
  );

  // ListObjectsV2 with a delimiter and pagination.
  const listPrefix = `${prefix}list/`;
  const names = ["a/1", "a/2", "b/1", "c", "d", "e&<f>.txt", "g h"];
  for (const name of names) await ops.put(`${listPrefix}${name}`, body);
  const keys: string[] = [];
  const prefixes: string[] = [];
  let token: string | undefined;
  let pages = 0;
  do {
    const page = await ops.list(listPrefix, "/", 2, token);
    keys.push(...page.keys.map((k) => k.slice(listPrefix.length)));
    prefixes.push(...page.prefixes.map((p) => p.slice(listPrefix.length)));
    token = page.next;
    pages++;
  } while (token !== undefined && pages < 20);
  const listing = `${pages} pages; prefixes ${prefixes.join(",")}; keys ${keys.join(",")}`;
  add(
    "ListObjectsV2 delimiter / max-keys 2, paginated",
    "3 pages (prefixes count toward max-keys); prefixes a/,b/; keys c,d,e&<f>.txt,g h",
    listing,
    pages === 3 && prefixes.join(",") === "a/,b/" && keys.join(",") === "c,d,e&<f>.txt,g h",
  );

  // CopyObject with x-amz-copy-source-if-match.
  const current = await ops.head(key);
  const currentEtag = current.etag ?? "";
  r = await ops.copy(key, `${prefix}copy1.txt`, { copySourceIfMatch: quote(currentEtag) });
  add("CopyObject copy-source-if-match: quoted current ETag", "200", show(r), r.status === 200);
  r = await ops.copy(key, `${prefix}copy2.txt`, { copySourceIfMatch: unquote(currentEtag) });
  add("CopyObject copy-source-if-match: unquoted current ETag", "200", show(r), r.status === 200);
  r = await ops.copy(key, `${prefix}copy3.txt`, {
    copySourceIfMatch: '"0123456789abcdef0123456789abcdef"',
  });
  add("CopyObject copy-source-if-match: stale ETag (quoted)", "412", show(r), r.status === 412);
  r = await ops.copy(key, `${prefix}copy3.txt`, {
    copySourceIfMatch: "0123456789abcdef0123456789abcdef",
  });
  add("CopyObject copy-source-if-match: stale ETag (unquoted)", "412", show(r), r.status === 412);

  // DeleteObject.
  r = await ops.delete(`${prefix}copy1.txt`, { ifMatch: '"0123456789abcdef0123456789abcdef"' });
  const afterStaleDelete = await ops.head(`${prefix}copy1.txt`);
  add(
    "DeleteObject If-Match: stale ETag",
    "412 (2024 feature), object kept",
    `${show(r)}, HEAD then ${afterStaleDelete.status}`,
    r.status === 412 && afterStaleDelete.status === 200,
  );
  r = await ops.delete(`${prefix}copy2.txt`);
  const afterDelete = await ops.head(`${prefix}copy2.txt`);
  add(
    "DeleteObject, then HeadObject",
    "204, then 404",
    `${show(r)}, then ${show(afterDelete)}`,
    r.status === 204 && afterDelete.status === 404,
  );
  r = await ops.delete(`${prefix}never-existed.txt`);
  add("DeleteObject of a missing key", "204", show(r), r.status === 204);
  return checks;
}

/**
 * aws4fetch only (headers the SDK does not send): the signed payload hash
 * (x-amz-content-sha256) as an integrity check, and RGW's own name for the
 * copy condition.
 */
async function rawChecks(ops: S3Ops, prefix: string): Promise<Check[]> {
  const source = `${prefix}copy-source.txt`;
  await ops.put(source, new TextEncoder().encode("copy me\n"));
  const sourceEtag = (await ops.head(source)).etag ?? "";
  const copyIf = (value: string) =>
    ops.copy(source, `${prefix}copy-raw.txt`, { headers: { "x-amz-copy-if-match": value } });
  const quotedCurrent = await copyIf(quote(sourceEtag));
  const unquotedCurrent = await copyIf(unquote(sourceEtag));
  const stale = await copyIf('"0123456789abcdef0123456789abcdef"');
  // A precondition on the destination: the copy target exists now.
  const destinationBefore = await ops.head(`${prefix}copy-raw.txt`);
  const noneMatch = await ops.copy(`${prefix}cond.txt`, `${prefix}copy-raw.txt`, {
    headers: { "if-none-match": "*" },
  });
  const destinationAfter = await ops.head(`${prefix}copy-raw.txt`);
  const streamed = randomBytes(1024 * 1024);
  const viaNode = await (ops as S3Ops & { putStreamNode: S3Ops["putStream"] }).putStreamNode(
    `${prefix}streamed-node.bin`,
    new Blob([streamed as BlobPart]).stream(),
    streamed.length,
  );
  const viaNodeHead = await ops.head(`${prefix}streamed-node.bin`);
  const body = new TextEncoder().encode("signed payload\n");
  const right = await ops.put(`${prefix}signed.txt`, body, { payloadSha256: sha256Hex(body) });
  const wrong = await ops.put(`${prefix}signed.txt`, body, {
    payloadSha256: sha256Hex(new Uint8Array(1)),
  });
  return [
    {
      name: "CopyObject x-amz-copy-if-match (RGW's name): quoted current ETag",
      aws: "(not an AWS header)",
      got: show(quotedCurrent),
      asAws: null,
    },
    {
      name: "CopyObject x-amz-copy-if-match (RGW's name): unquoted current ETag",
      aws: "(not an AWS header)",
      got: show(unquotedCurrent),
      asAws: null,
    },
    {
      name: "CopyObject x-amz-copy-if-match (RGW's name): stale ETag",
      aws: "(not an AWS header)",
      got: show(stale),
      asAws: null,
    },
    {
      name: "CopyObject If-None-Match: * on an existing destination",
      aws: "(not checked)",
      got: `${show(noneMatch)}, destination ${
        destinationAfter.etag === destinationBefore.etag ? "kept" : "replaced"
      }`,
      asAws: null,
    },
    {
      name: "PutObject 1 MiB web stream via node:http, headers signed by aws4fetch",
      aws: "200",
      got: `${show(viaNode)}, stored ${viaNodeHead.bytes} bytes`,
      asAws: viaNode.status === 200 && viaNodeHead.bytes === streamed.length,
    },
    {
      name: "PutObject signed x-amz-content-sha256 right",
      aws: "200",
      got: show(right),
      asAws: right.status === 200,
    },
    {
      name: "PutObject signed x-amz-content-sha256 wrong",
      aws: "400 XAmzContentSHA256Mismatch",
      got: show(wrong),
      asAws: wrong.status === 400,
    },
  ];
}

async function cleanup(ops: S3Ops, prefix: string): Promise<void> {
  for (const upload of (await ops.listUploads(prefix)).uploads) {
    await ops.abort(upload.key, upload.uploadId);
  }
  let token: string | undefined;
  const keys: string[] = [];
  do {
    const page = await ops.list(prefix, undefined, 1000, token);
    keys.push(...page.keys);
    token = page.next;
  } while (token !== undefined);
  for (const key of keys) await ops.delete(key);
}

interface StartupReport {
  client: ClientName;
  bootMs: number;
  importMs: number;
  firstHeadMs: number;
  rssMiB: number;
}

interface FullReport extends StartupReport {
  afterHandful: { rssMiB: number; hwmMiB: number };
  /** This process's CPU time (user + system) per call in the small-request loop. */
  cpuPerSmallCallMs: number;
  put1KiB: { medianMs: number; p90Ms: number };
  headObject: { medianMs: number; p90Ms: number };
  put1MiB: { ms: number[]; medianMs: number; mibPerS: number };
  get16MiB: { ms: number[]; medianMs: number; mibPerS: number };
  afterThroughput: { rssMiB: number; hwmMiB: number };
  checks: Check[];
}

const bootMs = performance.now();

async function child(
  client: ClientName,
  mode: "startup" | "full",
  putReps: number,
  getReps: number,
  smallReps: number,
): Promise<void> {
  const env = readEnv();
  const t0 = performance.now();
  let ops: S3Ops | null = null;
  if (client === "aws-sdk") ops = await makeSdkOps(env);
  else if (client === "aws4fetch") ops = await makeAws4fetchOps(env);
  const t1 = performance.now();
  let status: number;
  if (ops === null) {
    // Deno itself: one unsigned request (the gateway answers 200 with an anonymous bucket list).
    const response = await fetch(`${env.endpoint}/`);
    await response.body?.cancel();
    status = response.status;
  } else {
    status = (await ops.headBucket()).status;
  }
  const t2 = performance.now();
  if (status !== 200) throw new Error(`${client}: first request gave ${status}`);
  const startup: StartupReport = {
    client,
    bootMs: round(bootMs),
    importMs: round(t1 - t0),
    firstHeadMs: round(t2 - t1),
    rssMiB: (await rss()).rssMiB,
  };
  if (mode === "startup" || ops === null) {
    console.log(JSON.stringify(startup));
    return;
  }

  const prefix = `s3-client-choice/${client}-${Deno.pid}/`;
  try {
    // A handful of calls.
    const small = new TextEncoder().encode("x".repeat(1024));
    for (let i = 0; i < 3; i++) await ops.put(`${prefix}handful-${i}`, small);
    for (let i = 0; i < 3; i++) await ops.get(`${prefix}handful-${i}`);
    await ops.head(`${prefix}handful-0`);
    await ops.list(prefix, "/");
    for (let i = 0; i < 3; i++) await ops.delete(`${prefix}handful-${i}`);
    const afterHandful = await rss();

    // Small requests: latency per call, the cost a per-file metadata operation pays.
    const smallMs: number[] = [];
    const headMs: number[] = [];
    const cpuBefore = process.cpuUsage();
    for (let i = 0; i < smallReps; i++) {
      let t = performance.now();
      await ops.put(`${prefix}small`, small);
      smallMs.push(performance.now() - t);
      t = performance.now();
      await ops.head(`${prefix}small`);
      headMs.push(performance.now() - t);
    }
    const cpu = process.cpuUsage(cpuBefore);
    const cpuPerSmallCallMs = round((cpu.user + cpu.system) / 1000 / (2 * smallReps), 2);

    const oneMiB = randomBytes(1024 * 1024);
    const putMs: number[] = [];
    await ops.put(`${prefix}put-1m`, oneMiB); // warm-up
    for (let i = 0; i < putReps; i++) {
      const t = performance.now();
      const r = await ops.put(`${prefix}put-1m`, oneMiB);
      putMs.push(round(performance.now() - t));
      if (r.status !== 200) throw new Error(`PutObject 1 MiB gave ${show(r)}`);
    }
    const big = randomBytes(16 * 1024 * 1024);
    const bigPut = await ops.put(`${prefix}get-16m`, big);
    if (bigPut.status !== 200) throw new Error(`PutObject 16 MiB gave ${show(bigPut)}`);
    const getMs: number[] = [];
    await ops.get(`${prefix}get-16m`); // warm-up
    for (let i = 0; i < getReps; i++) {
      const t = performance.now();
      const r = await ops.get(`${prefix}get-16m`);
      getMs.push(round(performance.now() - t));
      if (r.bytes !== big.length) throw new Error(`GetObject 16 MiB gave ${r.bytes} bytes`);
    }
    const afterThroughput = await rss();

    const checks = await runChecks(ops, prefix);
    if (client === "aws4fetch") checks.push(...await rawChecks(ops, prefix));

    const report: FullReport = {
      ...startup,
      afterHandful,
      cpuPerSmallCallMs,
      put1KiB: { medianMs: round(median(smallMs)), p90Ms: round(percentile(smallMs, 0.9)) },
      headObject: { medianMs: round(median(headMs)), p90Ms: round(percentile(headMs, 0.9)) },
      put1MiB: {
        ms: putMs,
        medianMs: round(median(putMs)),
        mibPerS: round(1000 / median(putMs)),
      },
      get16MiB: {
        ms: getMs,
        medianMs: round(median(getMs)),
        mibPerS: round(16000 / median(getMs)),
      },
      afterThroughput,
      checks,
    };
    console.log(JSON.stringify(report));
  } finally {
    await cleanup(ops, prefix);
  }
}

// ---------------------------------------------------------------------------
// Parent: runs the children and prints the comparison.

async function spawnChild(args: string[]): Promise<{ wallMs: number; json: unknown }> {
  const t = performance.now();
  const output = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-all",
      import.meta.filename ?? new URL(import.meta.url).pathname,
      ...args,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const wallMs = round(performance.now() - t);
  const stdout = new TextDecoder().decode(output.stdout).trim();
  if (!output.success) {
    throw new Error(
      `child ${args.join(" ")} failed:\n${stdout}\n${new TextDecoder().decode(output.stderr)}`,
    );
  }
  return { wallMs, json: JSON.parse(stdout.split("\n").at(-1) ?? "null") };
}

async function parent(options: {
  startupRuns: number;
  rounds: number;
  putReps: number;
  getReps: number;
  smallReps: number;
  json?: string;
}): Promise<void> {
  const env = readEnv();
  console.log(`# S3 client choice, ${new Date().toISOString()}, against ${env.endpoint}\n`);
  const all: ClientName[] = ["baseline", ...CLIENTS];
  for (const client of all) await spawnChild(["--child", client, "--mode", "startup"]); // warm-up
  const startups: Record<string, (StartupReport & { wallMs: number })[]> = {};
  for (let run = 0; run < options.startupRuns; run++) {
    for (const client of all) {
      const { wallMs, json } = await spawnChild(["--child", client, "--mode", "startup"]);
      (startups[client] ??= []).push({ ...(json as StartupReport), wallMs });
    }
  }
  console.log(
    `## Start-up (median of ${options.startupRuns} processes each)\n\n` +
      "| client | process wall (spawn to exit) | boot to first line | import | first request | RSS after it |\n" +
      "| --- | --: | --: | --: | --: | --: |",
  );
  for (const client of all) {
    const runs = startups[client];
    const m = (pick: (r: StartupReport & { wallMs: number }) => number): number =>
      round(median(runs.map(pick)));
    console.log(
      `| ${client} | ${m((r) => r.wallMs)} ms | ${m((r) => r.bootMs)} ms | ${
        m((r) => r.importMs)
      } ms | ${m((r) => r.firstHeadMs)} ms | ${m((r) => r.rssMiB)} MiB |`,
    );
  }

  const fulls: Record<string, FullReport[]> = {};
  for (let round_ = 0; round_ < options.rounds; round_++) {
    for (const client of CLIENTS) {
      const { json } = await spawnChild([
        "--child",
        client,
        "--mode",
        "full",
        "--put-reps",
        String(options.putReps),
        "--get-reps",
        String(options.getReps),
        "--small-reps",
        String(options.smallReps),
      ]);
      (fulls[client] ??= []).push(json as FullReport);
    }
  }
  console.log(
    `\n## Memory and throughput (${options.rounds} processes per client; ` +
      `PutObject 1 KiB and HeadObject x ${options.smallReps}, ` +
      `PutObject 1 MiB x ${options.putReps}, GetObject 16 MiB x ${options.getReps}; ` +
      "medians, with min-max)\n\n" +
      "| client | round | RSS after a handful of calls | PutObject 1 KiB (p90) | HeadObject (p90) | client CPU per small call | PutObject 1 MiB | GetObject 16 MiB | RSS / peak after throughput |\n" +
      "| --- | --: | --: | --: | --: | --: | --: | --: | --: |",
  );
  for (const client of CLIENTS) {
    fulls[client].forEach((r, i) => {
      console.log(
        `| ${client} | ${
          i + 1
        } | ${r.afterHandful.rssMiB} MiB | ${r.put1KiB.medianMs} (${r.put1KiB.p90Ms}) ms | ${r.headObject.medianMs} (${r.headObject.p90Ms}) ms | ${r.cpuPerSmallCallMs} ms | ${r.put1MiB.medianMs} ms, ${
          range(r.put1MiB.ms)
        } (${r.put1MiB.mibPerS} MiB/s) | ${r.get16MiB.medianMs} ms, ${
          range(r.get16MiB.ms)
        } (${r.get16MiB.mibPerS} MiB/s) | ${r.afterThroughput.rssMiB} / ${r.afterThroughput.hwmMiB} MiB |`,
      );
    });
  }

  console.log(
    "\n## Behaviour (first round)\n\n| request | AWS S3 | " + CLIENTS.join(" | ") +
      " |\n| --- | --- |" + CLIENTS.map(() => " --- |").join(""),
  );
  const byName = new Map<string, Map<string, Check>>();
  for (const client of CLIENTS) {
    for (const check of fulls[client][0].checks) {
      if (!byName.has(check.name)) byName.set(check.name, new Map());
      byName.get(check.name)?.set(client, check);
    }
  }
  for (const [name, perClient] of byName) {
    const aws = [...perClient.values()][0].aws;
    const cells = CLIENTS.map((client) => {
      const check = perClient.get(client);
      if (check === undefined) return "n/a";
      const mark = check.asAws === null ? "" : check.asAws ? " ✓" : " ✗";
      return `${check.got}${mark}`;
    });
    console.log(`| ${name} | ${aws} | ${cells.join(" | ")} |`);
  }
  console.log("\n✓: as AWS documents; ✗: differs (a storage layer must not rely on it).");
  if (options.json !== undefined) {
    await Deno.writeTextFile(
      options.json,
      JSON.stringify({ date: new Date().toISOString(), startups, fulls }, null, 2) + "\n",
    );
  }
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      child: { type: "string" },
      mode: { type: "string", default: "full" },
      "startup-runs": { type: "string", default: "5" },
      rounds: { type: "string", default: "3" },
      "put-reps": { type: "string", default: "20" },
      "get-reps": { type: "string", default: "8" },
      "small-reps": { type: "string", default: "40" },
      json: { type: "string" },
    },
  });
  const putReps = Number(values["put-reps"]);
  const getReps = Number(values["get-reps"]);
  if (values.child !== undefined) {
    await child(
      values.child as ClientName,
      values.mode as "startup" | "full",
      putReps,
      getReps,
      Number(values["small-reps"]),
    );
  } else {
    await parent({
      startupRuns: Number(values["startup-runs"]),
      rounds: Number(values.rounds),
      putReps,
      getReps,
      smallReps: Number(values["small-reps"]),
      json: values.json,
    });
  }
  // Node handles kept alive by the SDK would hold the process open.
  Deno.exit(0);
}
