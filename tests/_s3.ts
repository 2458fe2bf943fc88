/**
 * Where the S3 tests find their store: the same environment variables the
 * server reads (`AWS_ENDPOINT_URL_S3` or `AWS_ENDPOINT_URL`,
 * `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`) plus
 * `FILEDROP_S3_TEST_BUCKET`, as `deno task ceph:up` writes them to its env
 * file, so the tests run against any endpoint a developer points them at.
 * Without them the S3 cases are ignored, and this module says why once.
 * Every run works under a prefix of its own and removes what it wrote.
 *
 * @module
 */

import { S3Client } from "../lib/storage/s3_client.ts";
import type { S3Config } from "../lib/storage/s3_config.ts";
import type { ServeOptions } from "../lib/mod.ts";

function readConfig(): S3Config | null {
  const env = (name: string) => {
    const value = Deno.env.get(name);
    return value === undefined || value === "" ? undefined : value;
  };
  const endpoint = env("AWS_ENDPOINT_URL_S3") ?? env("AWS_ENDPOINT_URL");
  const accessKeyId = env("AWS_ACCESS_KEY_ID");
  const secretAccessKey = env("AWS_SECRET_ACCESS_KEY");
  const bucket = env("FILEDROP_S3_TEST_BUCKET");
  if (!endpoint || !accessKeyId || !secretAccessKey || !bucket) return null;
  return {
    endpoint: endpoint.replace(/\/+$/, ""),
    bucket,
    prefix: "",
    region: env("AWS_REGION") ?? "us-east-1",
    pathStyle: true,
    credentials: { accessKeyId, secretAccessKey, sessionToken: env("AWS_SESSION_TOKEN") },
    credentialSource: "environment",
  };
}

/** The test store's configuration (prefix ""), or null when the environment names none. */
export const s3Config: S3Config | null = readConfig();

/** Whether the S3 cases are to be ignored. */
export const s3Ignored = s3Config === null;

if (s3Ignored) {
  console.log(
    "S3 cases ignored: set AWS_ENDPOINT_URL_S3, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and " +
      "FILEDROP_S3_TEST_BUCKET (deno task ceph:up, then . /tmp/filedrop-ceph/env)",
  );
}

/** This test run's own key prefix: runs and machines sharing a bucket never meet. */
export const RUN_PREFIX = `filedrop-tests/${Date.now().toString(36)}-${
  crypto.randomUUID().slice(0, 8)
}/`;

/** A prefix of its own for one test: `filedrop-tests/<run>/<name>/`. */
export function testPrefix(name: string): string {
  return `${RUN_PREFIX}${name.replace(/[^A-Za-z0-9_-]+/g, "-")}/`;
}

/** The `s3://` root of a test prefix. */
export function testRoot(prefix: string): string {
  return `s3://${s3Config!.bucket}/${prefix}`;
}

/** The `s3` option of `serve` that reaches the test store (the configuration must be there). */
export function testStoreOption(): NonNullable<ServeOptions["s3"]> {
  const config = s3Config!;
  return {
    endpoint: config.endpoint,
    region: config.region,
    pathStyle: true,
    credentials: config.credentials,
  };
}

/** `serve` options for the test prefix `prefix`: a free loopback port, errors on stderr. */
export function testServeOptions(prefix: string): ServeOptions {
  return {
    root: testRoot(prefix),
    port: 0,
    hostname: "127.0.0.1",
    s3: testStoreOption(),
    onError: (error) => console.error("server error:", error),
  };
}

/** A client of the test bucket (the configuration must be there). */
export function testClient(): S3Client {
  return new S3Client(s3Config!);
}

/** Deletes every object and aborts every multipart upload under `prefix`. */
export async function removePrefix(client: S3Client, prefix: string): Promise<void> {
  let token: string | null = null;
  do {
    const page = await client.listObjects({ prefix, token });
    for (let i = 0; i < page.objects.length; i += 16) {
      await Promise.all(page.objects.slice(i, i + 16).map((o) => client.deleteObject(o.key)));
    }
    token = page.nextToken;
  } while (token !== null);
  for (const upload of await client.listMultipartUploads(prefix)) {
    await client.abortMultipartUpload(upload.key, upload.uploadId);
  }
}

/** A deterministic pseudo-random body of `size` bytes (a cheap xorshift), so tests can check content. */
export function patternBytes(size: number, seed = 1): Uint8Array {
  const bytes = new Uint8Array(size);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < size; i += 4) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    bytes[i] = x;
    bytes[i + 1] = x >>> 8;
    bytes[i + 2] = x >>> 16;
    bytes[i + 3] = x >>> 24;
  }
  return bytes;
}

/** The hex SHA-256 of `bytes`. */
export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}
