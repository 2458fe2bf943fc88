/**
 * The `If` header parser and evaluator (RFC 4918 §10.4), table-driven: the
 * RFC's own examples, what litmus sends, and malformed headers.
 */

import assert from "node:assert/strict";
import { evaluateIf, parseIfHeader, taggedResources } from "../lib/dav/if_header.ts";
import type { ResourceState } from "../lib/dav/if_header.ts";
import { HttpError } from "../lib/http/errors.ts";

const T1 = "urn:uuid:181d4fae-7d8c-11d0-a765-00a0c91e6bf2";
const T2 = "urn:uuid:58f202ac-22cf-11d1-b12d-002035b29092";

Deno.test("If: the RFC 4918 examples parse into their lists", () => {
  const cases: [string, unknown][] = [
    // §10.4.6
    [
      `(<${T1}> ["I am an ETag"]) (["I am another ETag"])`,
      [
        {
          resource: null,
          conditions: [
            { not: false, kind: "token", token: T1 },
            { not: false, kind: "etag", etag: { weak: false, tag: "I am an ETag" } },
          ],
        },
        {
          resource: null,
          conditions: [{
            not: false,
            kind: "etag",
            etag: { weak: false, tag: "I am another ETag" },
          }],
        },
      ],
    ],
    // §10.4.7
    [
      `(Not <${T1}> <${T2}>)`,
      [{
        resource: null,
        conditions: [
          { not: true, kind: "token", token: T1 },
          { not: false, kind: "token", token: T2 },
        ],
      }],
    ],
    // §10.4.8
    [
      `(<${T1}>) (Not <DAV:no-lock>)`,
      [
        { resource: null, conditions: [{ not: false, kind: "token", token: T1 }] },
        { resource: null, conditions: [{ not: true, kind: "token", token: "DAV:no-lock" }] },
      ],
    ],
    // §10.4.9
    [
      `</resource1> (<${T1}> [W/"A weak ETag"]) (["strong ETag"])`,
      [
        {
          resource: "/resource1",
          conditions: [
            { not: false, kind: "token", token: T1 },
            { not: false, kind: "etag", etag: { weak: true, tag: "A weak ETag" } },
          ],
        },
        {
          resource: "/resource1",
          conditions: [{ not: false, kind: "etag", etag: { weak: false, tag: "strong ETag" } }],
        },
      ],
    ],
    // §10.4.10
    [
      `<http://www.example.com/specs/> (<${T1}>)`,
      [{
        resource: "http://www.example.com/specs/",
        conditions: [{ not: false, kind: "token", token: T1 }],
      }],
    ],
    // §10.4.11
    [
      `</specs/rfc2518.doc> (["4217"])`,
      [{
        resource: "/specs/rfc2518.doc",
        conditions: [{ not: false, kind: "etag", etag: { weak: false, tag: "4217" } }],
      }],
    ],
    // §10.4.12
    [
      `</specs/rfc2518.doc> (Not ["4217"])`,
      [{
        resource: "/specs/rfc2518.doc",
        conditions: [{ not: true, kind: "etag", etag: { weak: false, tag: "4217" } }],
      }],
    ],
    // Two tags, no space anywhere it is optional, "not" in lower case, tabs.
    [
      `</a>(<${T1}>)\t</b?x=1>(not[""])`,
      [
        { resource: "/a", conditions: [{ not: false, kind: "token", token: T1 }] },
        {
          resource: "/b?x=1",
          conditions: [{ not: true, kind: "etag", etag: { weak: false, tag: "" } }],
        },
      ],
    ],
  ];
  for (const [value, lists] of cases) {
    assert.deepEqual(parseIfHeader(value).lists, lists, value);
  }
});

Deno.test("If: malformed headers are 400", () => {
  const cases = [
    "",
    "   ",
    "()",
    "( )",
    `(<${T1}>`,
    `(<${T1})`,
    `<${T1}`,
    `(<not-a-uri>)`,
    `(<>)`,
    `(["unterminated)`,
    `([unquoted])`,
    `(["a"] x)`,
    `(["a"x])`,
    `(["a\x01b"])`,
    `([W/])`,
    `(Not)`,
    `(Not Not <${T1}>)`,
    `</a>`,
    `</a> </b> (<${T1}>)`,
    `(<${T1}>) </a> (<${T1}>)`,
    `<relative> (<${T1}>)`,
    `(<${T1}>) junk`,
    `(<${T1}>), (<${T2}>)`,
    `(<urn:a b>)`,
    `(<${T1}> (<${T2}>))`,
  ];
  for (const value of cases) {
    assert.throws(
      () => parseIfHeader(value),
      (error) => error instanceof HttpError && error.status === 400,
      JSON.stringify(value),
    );
  }
});

/** A resource with ETag "e1" locked by T1, the request URI, and an unmapped one. */
const locked: ResourceState = { etag: '"e1"', lockTokens: [T1] };
const unlocked: ResourceState = { etag: '"e2"', lockTokens: [] };
const unmapped: ResourceState = { etag: null, lockTokens: [] };

function verdict(value: string, request: ResourceState, tags: Record<string, ResourceState> = {}) {
  const header = parseIfHeader(value);
  const result = evaluateIf(header, (resource) => resource === null ? request : tags[resource]);
  return { holds: result.holds, submitted: [...result.submitted].sort() };
}

Deno.test("If: evaluation against ETags and lock tokens", () => {
  const cases: [string, ResourceState, Record<string, ResourceState>, boolean, string[]][] = [
    // litmus cond_put: the token and the ETag.
    [`(<${T1}> ["e1"])`, locked, {}, true, [T1]],
    // litmus fail_cond_put: no-lock is never a current state token.
    [`(<DAV:no-lock> ["e1"])`, locked, {}, false, []],
    // litmus cond_put_with_not.
    [`(<${T1}>) (Not <DAV:no-lock>)`, locked, {}, true, [T1]],
    // litmus cond_put_corrupt_token: holds through the second list, submits nothing.
    [`(<${T1}x>) (Not <DAV:no-lock>)`, locked, {}, true, []],
    // litmus complex_cond_put and fail_complex_cond_put.
    [`(<${T1}> ["e1"]) (Not <DAV:no-lock> ["e1"])`, locked, {}, true, [T1]],
    [`(<${T1}> ["e9"]) (Not <DAV:no-lock> ["e9"])`, locked, {}, false, []],
    // litmus fail_cond_put_unlocked.
    [`(<DAV:no-lock>)`, unlocked, {}, false, []],
    // A token from a list that fails is not submitted even when another list holds.
    [`(<${T1}> ["e9"]) (["e1"])`, locked, {}, true, []],
    // §10.4.7: Not T1 and T2 on a resource locked by T2 only.
    [`(Not <${T1}> <${T2}>)`, { etag: null, lockTokens: [T2] }, {}, true, [T2]],
    [`(Not <${T1}> <${T2}>)`, { etag: null, lockTokens: [T1, T2] }, {}, false, []],
    // A weak ETag never matches (strong comparison), even with the same opaque-tag.
    [`([W/"e1"])`, locked, {}, false, []],
    [`(Not [W/"e1"])`, locked, {}, true, []],
    // An unmapped resource has no ETag: only Not [...] holds there.
    [`(["e1"])`, unmapped, {}, false, []],
    [`(Not ["e1"])`, unmapped, {}, true, []],
    // Tagged lists are judged on their own resource, not the request URI.
    [`</locked> (<${T1}>)`, unlocked, { "/locked": locked }, true, [T1]],
    [`</free> (<${T1}>)`, locked, { "/free": unlocked }, false, []],
    [
      `</free> (["e2"]) </locked> (["e9"])`,
      unmapped,
      { "/free": unlocked, "/locked": locked },
      true,
      [],
    ],
  ];
  for (const [value, request, tags, holds, submitted] of cases) {
    assert.deepEqual(verdict(value, request, tags), { holds, submitted }, value);
  }
});

Deno.test("If: taggedResources names each tag once", () => {
  assert.deepEqual(
    taggedResources(parseIfHeader(`</a> (<${T1}>) (["x"]) </b> (["y"]) </a> (["z"])`)),
    [
      "/a",
      "/b",
    ],
  );
  assert.deepEqual(taggedResources(parseIfHeader(`(<${T1}>)`)), []);
});
