/**
 * `deno task s3:uploads -- s3://BUCKET/PREFIX [--abort] [--older-than 1h]`:
 * lists the unfinished multipart uploads under a prefix (what an instance
 * that died mid-upload leaves: invisible as objects, but stored and billed),
 * with their age, and with `--abort` aborts those older than `--older-than`
 * (default one day, the age a server's start-up aborts them at). Endpoint and
 * credentials come from where the server reads them (`--s3-endpoint`,
 * `--s3-profile`, `--s3-path-style`, the `AWS_*` variables, `~/.aws`).
 *
 * @module
 */

import { parseArgs } from "node:util";
import { S3Client } from "../lib/storage/s3_client.ts";
import { resolveS3Config } from "../lib/storage/s3_config.ts";

const UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `90s`, `30m`, `1h`, `2d` (or plain milliseconds) as milliseconds; NaN for anything else. */
export function parseAge(text: string): number {
  const match = /^([0-9]+)(s|m|h|d)?$/.exec(text);
  if (match === null) return NaN;
  return Number(match[1]) * (match[2] === undefined ? 1 : UNITS[match[2]]);
}

function humanAge(ms: number): string {
  if (ms < 120_000) return `${Math.round(ms / 1000)} s`;
  if (ms < 7_200_000) return `${Math.round(ms / 60_000)} min`;
  if (ms < 172_800_000) return `${Math.round(ms / 3_600_000)} h`;
  return `${Math.round(ms / 86_400_000)} d`;
}

async function main(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      abort: { type: "boolean" },
      "older-than": { type: "string" },
      "s3-endpoint": { type: "string" },
      "s3-profile": { type: "string" },
      "s3-path-style": { type: "boolean" },
    },
  });
  const olderThanMs = parseAge(values["older-than"] ?? "1d");
  if (positionals.length !== 1 || !Number.isFinite(olderThanMs)) {
    console.error(
      "usage: s3_uploads.ts s3://BUCKET/PREFIX [--abort] [--older-than 90s|30m|1h|2d]",
    );
    return 2;
  }
  const config = await resolveS3Config(positionals[0], {
    endpoint: values["s3-endpoint"],
    profile: values["s3-profile"],
    pathStyle: values["s3-path-style"],
  });
  const client = new S3Client(config);
  try {
    const now = Date.now();
    const uploads = await client.listMultipartUploads(config.prefix);
    let aborted = 0;
    for (const upload of uploads) {
      const age = upload.initiated === 0 ? Infinity : now - upload.initiated;
      const stale = age > olderThanMs;
      if (values.abort && stale) {
        await client.abortMultipartUpload(upload.key, upload.uploadId);
        aborted++;
      }
      const state = values.abort && stale ? "aborted" : stale ? "stale" : "recent";
      console.log(`${state}\t${age === Infinity ? "?" : humanAge(age)}\t${upload.key}`);
    }
    console.log(
      `${uploads.length} unfinished upload(s)` + (values.abort ? `, ${aborted} aborted` : ""),
    );
    return 0;
  } finally {
    client.close();
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
