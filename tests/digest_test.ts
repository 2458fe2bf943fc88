import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import {
  reprDigestOf,
  UploadDigests,
  wantsReprDigest,
  wantsSha256,
} from "../lib/content/digest.ts";
import { HttpError } from "../lib/http/errors.ts";

const body = new TextEncoder().encode("Hello, World!");
const b64 = (algorithm: string) => createHash(algorithm).update(body).digest("base64");

function check(headers: Record<string, string>): string {
  const digests = UploadDigests.fromHeaders(new Map(Object.entries(headers)));
  digests.update(body.subarray(0, 5));
  digests.update(body.subarray(5));
  digests.verify();
  return digests.reprDigest();
}

function status(fn: () => unknown): number | null {
  try {
    fn();
    return null;
  } catch (error) {
    if (error instanceof HttpError) return error.status;
    throw error;
  }
}

Deno.test("matching digests pass and the Repr-Digest is the body's sha-256", () => {
  const expected = `sha-256=:${b64("sha256")}:`;
  assert.equal(check({}), expected);
  assert.equal(check({ "content-digest": `sha-256=:${b64("sha256")}:` }), expected);
  assert.equal(check({ "repr-digest": `sha-512=:${b64("sha512")}:` }), expected);
  assert.equal(check({ "content-md5": b64("md5") }), expected);
  assert.equal(
    check({ "content-digest": `sha-512=:${b64("sha512")}:, sha-256=:${b64("sha256")}:` }),
    expected,
  );
  // Algorithms we do not implement are skipped, not failed.
  assert.equal(check({ "content-digest": "unixsum=:AAAA:" }), expected);
});

Deno.test("a mismatch or a malformed field is 400", () => {
  const wrong = createHash("sha256").update("other").digest("base64");
  const rows: Record<string, string>[] = [
    { "content-digest": `sha-256=:${wrong}:` },
    { "repr-digest": `sha-256=:${wrong}:` },
    { "content-md5": createHash("md5").update("other").digest("base64") },
    { "content-digest": "sha-256=abc" },
    { "content-digest": "sha-256=:not base64!:" },
    { "content-digest": `sha-256=:${b64("sha256").slice(1)}:` },
    { "content-md5": "AAAA" },
    { "content-digest": "" },
  ];
  for (const headers of rows) {
    assert.equal(status(() => check(headers)), 400, JSON.stringify(headers));
  }
});

Deno.test("wantsSha256 reads Want-Repr-Digest preferences", () => {
  const rows: [string | undefined, boolean][] = [
    [undefined, false],
    ["sha-256=1", true],
    ["sha-512=3, sha-256=10", true],
    ["sha-256=0", false],
    ["sha-512=1", false],
    ["garbage", false],
  ];
  for (const [value, expected] of rows) assert.equal(wantsSha256(value), expected, String(value));
});

Deno.test("reprDigestOf computes once per ETag", async () => {
  let reads = 0;
  const read = () => {
    reads++;
    return [body];
  };
  const first = await reprDigestOf('"test-etag-1"', read);
  const second = await reprDigestOf('"test-etag-1"', read);
  assert.equal(first, `sha-256=:${b64("sha256")}:`);
  assert.equal(second, first);
  assert.equal(reads, 1);
});

Deno.test("without a Repr-Digest to give, only the announced digests are computed", () => {
  const none = UploadDigests.fromHeaders(new Map(), { reprDigest: false });
  none.update(body);
  none.verify();
  assert.equal(none.hasReprDigest, false);
  assert.throws(() => none.reprDigest());

  const announced = new Map([["content-digest", `sha-256=:${b64("sha256")}:`]]);
  const checked = UploadDigests.fromHeaders(announced, { reprDigest: false });
  checked.update(body);
  checked.verify();
  assert.equal(checked.reprDigest(), `sha-256=:${b64("sha256")}:`);

  const otherMd5 = createHash("md5").update("other").digest("base64");
  const wrongMd5 = UploadDigests.fromHeaders(new Map([["content-md5", otherMd5]]), {
    reprDigest: false,
  });
  wrongMd5.update(body);
  assert.equal(status(() => wrongMd5.verify()), 400, "still checked");
});

Deno.test("wantsReprDigest: a sha-256 preference or any digest the client sent", () => {
  const rows: [Record<string, string>, boolean][] = [
    [{}, false],
    [{ "want-repr-digest": "sha-256=0" }, false],
    [{ "want-repr-digest": "sha-512=1" }, false],
    [{ "want-repr-digest": "sha-256=1" }, true],
    [{ "content-md5": "x" }, true],
    [{ "repr-digest": "x" }, true],
    [{ "content-digest": "x" }, true],
    [{ "want-content-digest": "sha-256=1" }, false],
  ];
  for (const [headers, expected] of rows) {
    assert.equal(
      wantsReprDigest(new Map(Object.entries(headers))),
      expected,
      JSON.stringify(headers),
    );
  }
});
