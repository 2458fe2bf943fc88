/** Tests of lib/handlers/url_path.ts: decoding request paths into store paths and back. */

import assert from "node:assert/strict";
import { HttpError } from "../lib/http/errors.ts";
import {
  decodeUrlPath,
  encodeUrlPath,
  isHiddenPath,
  type UrlPath,
} from "../lib/handlers/url_path.ts";
import { TEMP_PREFIX } from "../lib/storage/temp_files.ts";

function isHttpError(status: number): (error: unknown) => boolean {
  return (error) => error instanceof HttpError && error.status === status;
}

// --- decodeUrlPath -----------------------------------------------------------

const decodesTo: [raw: string, expected: UrlPath][] = [
  ["/", { segments: [], trailingSlash: true }],
  ["/a", { segments: ["a"], trailingSlash: false }],
  ["/a/", { segments: ["a"], trailingSlash: true }],
  ["/a/b.txt", { segments: ["a", "b.txt"], trailingSlash: false }],
  ["/caf%C3%A9", { segments: ["café"], trailingSlash: false }],
  ["/caf%c3%a9/", { segments: ["café"], trailingSlash: true }],
  ["/%E6%97%A5%E6%9C%AC", { segments: ["日本"], trailingSlash: false }],
  ["/%F0%9F%98%80.png", { segments: ["😀.png"], trailingSlash: false }],
  ["/a%20b", { segments: ["a b"], trailingSlash: false }],
  ["/%20leading", { segments: [" leading"], trailingSlash: false }],
  ["/a+b", { segments: ["a+b"], trailingSlash: false }],
  ["/a%2Bb", { segments: ["a+b"], trailingSlash: false }],
  ["//a//b/", { segments: ["a", "b"], trailingSlash: true }],
  ["/a//", { segments: ["a"], trailingSlash: true }],
  ["/./a/.", { segments: ["a"], trailingSlash: true }],
  ["/a/./b", { segments: ["a", "b"], trailingSlash: false }],
  ["/a/../b", { segments: ["b"], trailingSlash: false }],
  ["/a/b/..", { segments: ["a"], trailingSlash: true }],
  ["/a/..", { segments: [], trailingSlash: true }],
  ["/a/%2e%2e", { segments: [], trailingSlash: true }],
  ["/a/.%2E/b", { segments: ["b"], trailingSlash: false }],
  ["/a/%2e/b", { segments: ["a", "b"], trailingSlash: false }],
  // Decoded exactly once: "%252e%252e" is the literal name "%2e%2e", not "..".
  ["/%252e%252e/", { segments: ["%2e%2e"], trailingSlash: true }],
  ["/a/%252e%252e/b", { segments: ["a", "%2e%2e", "b"], trailingSlash: false }],
  ["/%252F", { segments: ["%2F"], trailingSlash: false }],
  ["/%2541", { segments: ["%41"], trailingSlash: false }],
  ["/a%23b%3Fc%25d", { segments: ["a#b?c%d"], trailingSlash: false }],
  ["/%3Cimg%3E", { segments: ["<img>"], trailingSlash: false }],
  ["/.hidden", { segments: [".hidden"], trailingSlash: false }],
  ["/..a", { segments: ["..a"], trailingSlash: false }],
  ["/a..b", { segments: ["a..b"], trailingSlash: false }],
  ["/.well-known/x", { segments: [".well-known", "x"], trailingSlash: false }],
  ["/con-x/console/connect.txt", {
    segments: ["con-x", "console", "connect.txt"],
    trailingSlash: false,
  }],
  ["/com10/lpt/nul_", { segments: ["com10", "lpt", "nul_"], trailingSlash: false }],
  ["/a$b/~user", { segments: ["a$b", "~user"], trailingSlash: false }],
  // A leading BOM is kept, not stripped by the UTF-8 decoder.
  ["/%EF%BB%BFa", { segments: ["\uFEFFa"], trailingSlash: false }],
  [`/${"a".repeat(255)}`, { segments: ["a".repeat(255)], trailingSlash: false }],
  [`/${"%C3%A9".repeat(127)}`, { segments: ["é".repeat(127)], trailingSlash: false }],
  // A temp-like name that is resolved away is never opened.
  ["/.filedrop-tmp-x/../a", { segments: ["a"], trailingSlash: false }],
  ["/filedrop-tmp-x", { segments: ["filedrop-tmp-x"], trailingSlash: false }],
  ["/a.filedrop-tmp-x", { segments: ["a.filedrop-tmp-x"], trailingSlash: false }],
];

for (const [raw, expected] of decodesTo) {
  Deno.test(`decodeUrlPath accepts ${JSON.stringify(raw.slice(0, 60))}`, () => {
    assert.deepEqual(decodeUrlPath(raw, "linux"), expected);
  });
}

const rejectedWith400: [raw: string, why: string][] = [
  ["", "empty"],
  ["a/b", "no leading slash"],
  ["*", "asterisk-form"],
  ["http://evil.example/a", "absolute-form"],
  ["\\..\\", "backslash traversal, no leading slash"],
  ["/../etc/passwd", "traversal"],
  ["/..", "bare .. at ROOT"],
  ["/%2e%2e/", "encoded .."],
  ["/%2E%2E/etc/passwd", "upper-case encoded .."],
  ["/%2E%2E%2F", "encoded ../"],
  ["/a/../../x", "climbs above ROOT"],
  ["/a/%2e%2e/%2e%2e/x", "encoded climb above ROOT"],
  ["/x/../../", "climbs above ROOT with trailing slash"],
  ["/..%2f", "../ with encoded slash"],
  ["/..%2fetc%2fpasswd", "encoded slashes"],
  ["/a%2Fb", "encoded slash"],
  ["/.%2e/", "half-encoded .."],
  ["/%2e./x", "half-encoded .. (other half)"],
  ["/..\\x", "raw backslash"],
  ["/a\\b", "raw backslash inside name"],
  ["/%5c..%5c", "encoded backslash traversal"],
  ["/%5C", "encoded backslash"],
  ["/%00", "NUL"],
  ["/a%00.txt", "NUL in name"],
  ["/a.txt%00.png", "NUL extension trick"],
  ["/a%0Ab", "newline"],
  ["/a%0D%0AX-Injected:1", "CRLF"],
  ["/%09", "tab"],
  ["/%1F", "unit separator"],
  ["/%7F", "DEL"],
  ["/%C2%85", "C1 control NEL"],
  ["/%C2%9B", "C1 control CSI"],
  ["/%", "lone %"],
  ["/a%", "trailing %"],
  ["/%g1", "non-hex escape"],
  ["/%1", "short escape"],
  ["/%1/x", "short escape before slash"],
  ["/a%2", "short escape at end"],
  ["/%%41", "double %"],
  ["/%C3%28", "invalid UTF-8 continuation"],
  ["/%FF", "invalid UTF-8 byte"],
  ["/%C3", "truncated UTF-8"],
  ["/%C0%AF", "overlong /"],
  ["/%C0%AE%C0%AE", "overlong .."],
  ["/%E0%80%AE", "3-byte overlong ."],
  ["/%ED%A0%80", "UTF-8 encoded surrogate"],
  ["/%F4%90%80%80", "above U+10FFFF"],
  ["/x::$DATA", "NTFS stream"],
  ["/x%3A%3A$DATA", "encoded NTFS stream"],
  ["/x:stream", "named stream"],
  ["/C:", "drive letter"],
  ["/c%3A/windows", "encoded drive letter"],
  ["/con", "CON"],
  ["/CON", "CON upper"],
  ["/con.txt", "CON with extension"],
  ["/Nul.tar.gz", "NUL with double extension"],
  ["/con%20.txt", "CON with space before extension"],
  ["/prn", "PRN"],
  ["/aux.c", "AUX"],
  ["/com0", "COM0"],
  ["/COM1", "COM1"],
  ["/lpt9.log", "LPT9"],
  ["/com%C2%B9", "COM superscript one"],
  ["/LPT%C2%B3.txt", "LPT superscript three"],
  ["/conin$", "CONIN$"],
  ["/a/conout$/b", "CONOUT$"],
  ["/file.", "trailing dot"],
  ["/file%2E", "encoded trailing dot"],
  ["/file%20", "trailing space"],
  ["/file ", "raw trailing space"],
  ["/a b", "raw space"],
  ["/a\tb", "raw tab"],
  ["/a\x7Fb", "raw DEL"],
  ["/caf\u00E9", "raw non-ASCII"],
  ["/\u2025", "raw two-dot leader"],
  ["/...", "three dots"],
  ["/. .", "dot space dot"],
  ["/..%20", ".. with trailing space"],
  ["/%20..", ".. with leading space"],
  ["/....//", "four dots"],
  [`/${"a".repeat(256)}`, "256-byte name"],
  [`/${"%C3%A9".repeat(128)}`, "256-byte multibyte name"],
  [`/ok/${"b".repeat(300)}/..`, "over-long name even when resolved away"],
  ["/con/../a", "invalid name even when resolved away"],
];

for (const [raw, why] of rejectedWith400) {
  Deno.test(`decodeUrlPath rejects ${why} with 400`, () => {
    assert.throws(() => decodeUrlPath(raw, "linux"), isHttpError(400));
  });
}

const rejectedWith404: string[] = [
  `/${TEMP_PREFIX}abc`,
  "/.filedrop-tmp-abc",
  "/a/.filedrop-tmp-x/",
  "/%2Efiledrop-tmp-x",
  "/%2efiledrop%2Dtmp%2Dx",
  "/.FILEDROP-TMP-x",
  "/.%EF%AC%81ledrop-tmp-x", // "ﬁ" ligature folds to "fi" on a case-insensitive FS
  "/a/b/../.filedrop-tmp-1",
];

for (const raw of rejectedWith404) {
  Deno.test(`decodeUrlPath hides temp file ${raw} with 404`, () => {
    assert.throws(() => decodeUrlPath(raw, "linux"), isHttpError(404));
  });
}

Deno.test("decodeUrlPath reports 400 before 404 for an invalid temp name", () => {
  assert.throws(() => decodeUrlPath("/.filedrop-tmp-x%00", "linux"), isHttpError(400));
});

Deno.test("decodeUrlPath rejects 8.3 short names only on Windows", () => {
  const shortNames = ["/PROGRA~1", "/.FILED~1", "/docs/SECRET~2.TXT"];
  for (const raw of shortNames) {
    assert.throws(() => decodeUrlPath(raw, "windows"), isHttpError(400), raw);
    assert.doesNotThrow(() => decodeUrlPath(raw, "linux"), raw);
    assert.doesNotThrow(() => decodeUrlPath(raw, "darwin"), raw);
  }
  // "~" without a digit is not a short-name marker.
  assert.deepEqual(decodeUrlPath("/~user/a~b", "windows").segments, ["~user", "a~b"]);
});

Deno.test("decodeUrlPath defaults to the running platform's rules", () => {
  const expectRejected = Deno.build.os === "windows";
  const run = () => decodeUrlPath("/PROGRA~1");
  if (expectRejected) assert.throws(run, isHttpError(400));
  else assert.deepEqual(run().segments, ["PROGRA~1"]);
});

// --- isHiddenPath ------------------------------------------------------------

const hiddenCases: [segments: string[], hidden: boolean][] = [
  [[], false],
  [["a"], false],
  [["a.b", "c."], false],
  [[".a"], true],
  [[".git", "config"], true],
  [["a", ".git", "config"], true],
  [["a", "b", ".env"], true],
  [["..a"], true],
  [[".well-known"], false],
  [[".well-known", "acme-challenge", "token"], false],
  [[".well-known", ".secret"], true],
  [["a", ".well-known"], true],
  [[".Well-Known"], true],
  [[".well-known-x"], true],
];

for (const [segments, hidden] of hiddenCases) {
  Deno.test(`isHiddenPath(${JSON.stringify(segments)}) is ${hidden}`, () => {
    assert.equal(isHiddenPath(segments), hidden);
  });
}

// --- encodeUrlPath -----------------------------------------------------------

const encodesTo: [segments: string[], trailingSlash: boolean, expected: string][] = [
  [[], true, "/"],
  [[], false, "/"],
  [["a"], false, "/a"],
  [["a"], true, "/a/"],
  [["a", "b.txt"], false, "/a/b.txt"],
  [["a b"], false, "/a%20b"],
  [["a+b"], false, "/a%2Bb"],
  [["café"], false, "/caf%C3%A9"],
  [["a#b?c%d"], false, "/a%23b%3Fc%25d"],
  [["<img src=x onerror=alert(1)>"], false, "/%3Cimg%20src%3Dx%20onerror%3Dalert%281%29%3E"],
  [['it\'s "quoted"'], false, "/it%27s%20%22quoted%22"],
  [["a!*"], false, "/a%21%2A"],
  [["a/b"], false, "/a%2Fb"],
  [["\\evil.example"], false, "/%5Cevil.example"],
  [["/evil.example"], false, "/%2Fevil.example"],
  [["~-_.x"], false, "/~-_.x"],
  [[".well-known", "x"], true, "/.well-known/x/"],
];

for (const [segments, trailingSlash, expected] of encodesTo) {
  Deno.test(`encodeUrlPath(${JSON.stringify(segments)}, ${trailingSlash})`, () => {
    assert.equal(encodeUrlPath(segments, trailingSlash), expected);
  });
}

const hostileNames = [
  "<img src=x onerror=alert(1)>",
  "a#b?c%d",
  "%2e%2e",
  "%252e",
  "a b  c",
  " leading",
  'it\'s "quoted" & <tagged>',
  "café",
  "日本語",
  "😀",
  "\uFEFFbom",
  "\u202Eevil.txt",
  "javascript_alert(1)",
  "a;b=c,d",
  "[]{}|^`",
  "~!*'()",
  "..a",
  ".x",
];

Deno.test("encodeUrlPath round-trips hostile names through decodeUrlPath", () => {
  for (const name of hostileNames) {
    for (const trailingSlash of [false, true]) {
      const segments = ["dir", name];
      const encoded = encodeUrlPath(segments, trailingSlash);
      assert.deepEqual(decodeUrlPath(encoded, "linux"), { segments, trailingSlash }, encoded);
      assert.deepEqual(decodeUrlPath(encodeUrlPath([name], trailingSlash), "linux").segments, [
        name,
      ]);
    }
  }
});

Deno.test("encodeUrlPath output is a same-origin path", () => {
  const names = [...hostileNames, "/", "//", "\\", "/\\", "a/b", "\\\\host\\share"];
  for (const name of names) {
    for (const trailingSlash of [false, true]) {
      const encoded = encodeUrlPath([name], trailingSlash);
      assert.ok(encoded.startsWith("/"), encoded);
      assert.ok(!encoded.startsWith("//"), encoded);
      assert.ok(!encoded.startsWith("/\\"), encoded);
      assert.match(encoded, /^[A-Za-z0-9\-._~%/]+$/, encoded);
    }
  }
});

Deno.test("encodeUrlPath refuses segments that cannot be expressed", () => {
  for (const segments of [[""], ["", "evil.example"], ["."], [".."], ["a", ".."]]) {
    assert.throws(() => encodeUrlPath(segments, false), RangeError, JSON.stringify(segments));
  }
});
