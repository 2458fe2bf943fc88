import assert from "node:assert/strict";
import {
  checkPreconditions,
  type ConditionalHeaders,
  type EntityTag,
  ifRangeAllowsRange,
  parseETagList,
  type PreconditionOutcome,
  type Validators,
} from "../lib/content/preconditions.ts";

const ETAG = '"5f1a-3e8-17b4c2d"';
const WEAK_ETAG = 'W/"5f1a-3e8-17b4c2d"';
/** Sun, 06 Nov 1994 08:49:37.500 GMT: half a second past the whole second HTTP sees. */
const MODIFIED_MS = Date.UTC(1994, 10, 6, 8, 49, 37, 500);
const SAME_SECOND = "Sun, 06 Nov 1994 08:49:37 GMT";
const SECOND_BEFORE = "Sun, 06 Nov 1994 08:49:36 GMT";
const SECOND_AFTER = "Sun, 06 Nov 1994 08:49:38 GMT";
const BAD_DATE = "Sun, 30 Feb 1994 08:49:37 GMT";

const FILE: Validators = { etag: ETAG, lastModified: MODIFIED_MS };
const WEAK_FILE: Validators = { etag: WEAK_ETAG, lastModified: MODIFIED_MS };
const MISSING = null;

// deno-fmt-ignore
const rows: {
  name: string;
  method: string;
  headers: ConditionalHeaders;
  current: Validators | null;
  expected: PreconditionOutcome;
}[] = [
  // No conditions.
  { name: "no headers", method: "GET", headers: {}, current: FILE, expected: "proceed" },
  { name: "no headers, missing", method: "PUT", headers: {}, current: MISSING, expected: "proceed" },
  { name: "If-Range alone changes nothing", method: "GET", headers: { ifRange: '"other"' }, current: FILE, expected: "proceed" },
  // If-Match (strong comparison).
  { name: "If-Match * on existing", method: "PUT", headers: { ifMatch: "*" }, current: FILE, expected: "proceed" },
  { name: "If-Match * on missing", method: "PUT", headers: { ifMatch: "*" }, current: MISSING, expected: "precondition-failed" },
  { name: "If-Match * on missing, GET", method: "GET", headers: { ifMatch: "*" }, current: MISSING, expected: "precondition-failed" },
  { name: "If-Match tag on missing", method: "PUT", headers: { ifMatch: ETAG }, current: MISSING, expected: "precondition-failed" },
  { name: "If-Match equal", method: "PUT", headers: { ifMatch: ETAG }, current: FILE, expected: "proceed" },
  { name: "If-Match equal, DELETE", method: "DELETE", headers: { ifMatch: ETAG }, current: FILE, expected: "proceed" },
  { name: "If-Match equal, GET", method: "GET", headers: { ifMatch: ETAG }, current: FILE, expected: "proceed" },
  { name: "If-Match different", method: "PUT", headers: { ifMatch: '"other"' }, current: FILE, expected: "precondition-failed" },
  { name: "If-Match different, GET", method: "GET", headers: { ifMatch: '"other"' }, current: FILE, expected: "precondition-failed" },
  { name: "If-Match weak form never matches", method: "PUT", headers: { ifMatch: WEAK_ETAG }, current: FILE, expected: "precondition-failed" },
  { name: "If-Match against a weak current tag", method: "PUT", headers: { ifMatch: ETAG }, current: WEAK_FILE, expected: "precondition-failed" },
  { name: "If-Match list with spaces", method: "PUT", headers: { ifMatch: `"a", W/"b" ,${ETAG}` }, current: FILE, expected: "proceed" },
  { name: "If-Match list, only weak match", method: "PUT", headers: { ifMatch: `"a", ${WEAK_ETAG}` }, current: FILE, expected: "precondition-failed" },
  { name: "If-Match unquoted", method: "PUT", headers: { ifMatch: "5f1a-3e8-17b4c2d" }, current: FILE, expected: "precondition-failed" },
  { name: "If-Match empty", method: "PUT", headers: { ifMatch: "" }, current: FILE, expected: "precondition-failed" },
  { name: "If-Match malformed then valid", method: "PUT", headers: { ifMatch: `bad, ${ETAG}` }, current: FILE, expected: "proceed" },
  // If-Unmodified-Since (only without If-Match; seconds precision).
  { name: "IUS same second", method: "PUT", headers: { ifUnmodifiedSince: SAME_SECOND }, current: FILE, expected: "proceed" },
  { name: "IUS later", method: "PUT", headers: { ifUnmodifiedSince: SECOND_AFTER }, current: FILE, expected: "proceed" },
  { name: "IUS earlier", method: "PUT", headers: { ifUnmodifiedSince: SECOND_BEFORE }, current: FILE, expected: "precondition-failed" },
  { name: "IUS earlier, GET", method: "GET", headers: { ifUnmodifiedSince: SECOND_BEFORE }, current: FILE, expected: "precondition-failed" },
  { name: "IUS unparsable is ignored", method: "PUT", headers: { ifUnmodifiedSince: "yesterday" }, current: FILE, expected: "proceed" },
  { name: "IUS impossible date is ignored", method: "PUT", headers: { ifUnmodifiedSince: BAD_DATE }, current: FILE, expected: "proceed" },
  { name: "IUS on missing is ignored", method: "PUT", headers: { ifUnmodifiedSince: SECOND_BEFORE }, current: MISSING, expected: "proceed" },
  { name: "IUS in asctime form", method: "PUT", headers: { ifUnmodifiedSince: "Sun Nov  6 08:49:36 1994" }, current: FILE, expected: "precondition-failed" },
  { name: "IUS ignored when If-Match passes", method: "PUT", headers: { ifMatch: ETAG, ifUnmodifiedSince: SECOND_BEFORE }, current: FILE, expected: "proceed" },
  { name: "IUS cannot rescue a failed If-Match", method: "PUT", headers: { ifMatch: '"other"', ifUnmodifiedSince: SECOND_AFTER }, current: FILE, expected: "precondition-failed" },
  // If-None-Match (weak comparison).
  { name: "INM equal, GET", method: "GET", headers: { ifNoneMatch: ETAG }, current: FILE, expected: "not-modified" },
  { name: "INM equal, HEAD", method: "HEAD", headers: { ifNoneMatch: ETAG }, current: FILE, expected: "not-modified" },
  { name: "INM weak form matches weakly", method: "GET", headers: { ifNoneMatch: WEAK_ETAG }, current: FILE, expected: "not-modified" },
  { name: "INM against a weak current tag", method: "GET", headers: { ifNoneMatch: ETAG }, current: WEAK_FILE, expected: "not-modified" },
  { name: "INM different", method: "GET", headers: { ifNoneMatch: '"other"' }, current: FILE, expected: "proceed" },
  { name: "INM list with spaces", method: "GET", headers: { ifNoneMatch: `"a", W/"b" ,${ETAG}` }, current: FILE, expected: "not-modified" },
  { name: "INM list without match", method: "GET", headers: { ifNoneMatch: `"a", W/"b" ,"c"` }, current: FILE, expected: "proceed" },
  { name: "INM malformed only", method: "GET", headers: { ifNoneMatch: "5f1a-3e8-17b4c2d" }, current: FILE, expected: "proceed" },
  { name: "INM * on existing, GET", method: "GET", headers: { ifNoneMatch: "*" }, current: FILE, expected: "not-modified" },
  { name: "INM * on missing, GET", method: "GET", headers: { ifNoneMatch: "*" }, current: MISSING, expected: "proceed" },
  { name: "INM * on existing, PUT", method: "PUT", headers: { ifNoneMatch: "*" }, current: FILE, expected: "precondition-failed" },
  { name: "INM * on missing, PUT", method: "PUT", headers: { ifNoneMatch: "*" }, current: MISSING, expected: "proceed" },
  { name: "INM equal, POST", method: "POST", headers: { ifNoneMatch: ETAG }, current: FILE, expected: "precondition-failed" },
  { name: "INM equal, DELETE", method: "DELETE", headers: { ifNoneMatch: ETAG }, current: FILE, expected: "precondition-failed" },
  { name: "INM equal, lowercase get is not GET", method: "get", headers: { ifNoneMatch: ETAG }, current: FILE, expected: "precondition-failed" },
  // If-Modified-Since (GET/HEAD only, only without If-None-Match; seconds precision).
  { name: "IMS same second", method: "GET", headers: { ifModifiedSince: SAME_SECOND }, current: FILE, expected: "not-modified" },
  { name: "IMS later", method: "GET", headers: { ifModifiedSince: SECOND_AFTER }, current: FILE, expected: "not-modified" },
  { name: "IMS earlier", method: "GET", headers: { ifModifiedSince: SECOND_BEFORE }, current: FILE, expected: "proceed" },
  { name: "IMS same second, HEAD", method: "HEAD", headers: { ifModifiedSince: SAME_SECOND }, current: FILE, expected: "not-modified" },
  { name: "IMS in RFC 850 form", method: "GET", headers: { ifModifiedSince: "Sunday, 06-Nov-94 08:49:37 GMT" }, current: FILE, expected: "not-modified" },
  { name: "IMS unparsable is ignored", method: "GET", headers: { ifModifiedSince: "garbage" }, current: FILE, expected: "proceed" },
  { name: "IMS impossible date is ignored", method: "GET", headers: { ifModifiedSince: BAD_DATE }, current: FILE, expected: "proceed" },
  { name: "IMS empty is ignored", method: "GET", headers: { ifModifiedSince: "" }, current: FILE, expected: "proceed" },
  { name: "IMS ignored for PUT", method: "PUT", headers: { ifModifiedSince: SECOND_AFTER }, current: FILE, expected: "proceed" },
  { name: "IMS ignored for POST", method: "POST", headers: { ifModifiedSince: SECOND_AFTER }, current: FILE, expected: "proceed" },
  { name: "IMS on missing is ignored", method: "GET", headers: { ifModifiedSince: SECOND_AFTER }, current: MISSING, expected: "proceed" },
  { name: "IMS ignored when INM does not match", method: "GET", headers: { ifNoneMatch: '"other"', ifModifiedSince: SECOND_AFTER }, current: FILE, expected: "proceed" },
  { name: "IMS ignored when INM is malformed", method: "GET", headers: { ifNoneMatch: "bad", ifModifiedSince: SECOND_AFTER }, current: FILE, expected: "proceed" },
  { name: "INM match wins over old IMS", method: "GET", headers: { ifNoneMatch: ETAG, ifModifiedSince: SECOND_BEFORE }, current: FILE, expected: "not-modified" },
  // Order between the groups.
  { name: "failed If-Match beats INM 304", method: "GET", headers: { ifMatch: '"other"', ifNoneMatch: ETAG }, current: FILE, expected: "precondition-failed" },
  { name: "failed If-Match beats IMS 304", method: "GET", headers: { ifMatch: '"other"', ifModifiedSince: SECOND_AFTER }, current: FILE, expected: "precondition-failed" },
  { name: "failed IUS beats INM 304", method: "GET", headers: { ifUnmodifiedSince: SECOND_BEFORE, ifNoneMatch: ETAG }, current: FILE, expected: "precondition-failed" },
  { name: "failed IUS beats IMS 304", method: "GET", headers: { ifUnmodifiedSince: SECOND_BEFORE, ifModifiedSince: SECOND_AFTER }, current: FILE, expected: "precondition-failed" },
  { name: "If-Match passes, then INM 304", method: "GET", headers: { ifMatch: ETAG, ifNoneMatch: ETAG }, current: FILE, expected: "not-modified" },
  { name: "IUS passes, then IMS 304", method: "GET", headers: { ifUnmodifiedSince: SECOND_AFTER, ifModifiedSince: SECOND_AFTER }, current: FILE, expected: "not-modified" },
  { name: "If-Match passes, then INM * fails a PUT", method: "PUT", headers: { ifMatch: ETAG, ifNoneMatch: "*" }, current: FILE, expected: "precondition-failed" },
  { name: "all pass", method: "GET", headers: { ifMatch: "*", ifUnmodifiedSince: SECOND_AFTER, ifNoneMatch: '"other"', ifModifiedSince: SECOND_BEFORE, }, current: FILE, expected: "proceed" },
];

for (const row of rows) {
  Deno.test(`checkPreconditions: ${row.name}`, () => {
    assert.equal(checkPreconditions(row.method, row.headers, row.current), row.expected);
  });
}

/** Well over a second after MODIFIED_MS, so Last-Modified is a strong validator. */
const LATER_NOW = MODIFIED_MS + 60_000;

// deno-fmt-ignore
const ifRangeRows: {
  name: string;
  ifRange: string | undefined;
  current?: Validators;
  nowMs?: number;
  expected: boolean;
}[] = [
  { name: "absent", ifRange: undefined, expected: true },
  { name: "same strong tag", ifRange: ETAG, expected: true },
  { name: "same strong tag with OWS", ifRange: ` ${ETAG}\t`, expected: true },
  { name: "weak tag never matches", ifRange: WEAK_ETAG, expected: false },
  { name: "against a weak current tag", ifRange: ETAG, current: WEAK_FILE, expected: false },
  { name: "different tag", ifRange: '"other"', expected: false },
  { name: "a list is not one tag", ifRange: `"a", ${ETAG}`, expected: false },
  { name: "*", ifRange: "*", expected: false },
  { name: "unterminated tag", ifRange: '"5f1a-3e8-17b4c2d', expected: false },
  { name: "unquoted tag", ifRange: "5f1a-3e8-17b4c2d", expected: false },
  { name: "empty", ifRange: "", expected: false },
  { name: "garbage", ifRange: "garbage", expected: false },
  { name: "exact date", ifRange: SAME_SECOND, expected: true },
  { name: "exact date in asctime form", ifRange: "Sun Nov  6 08:49:37 1994", expected: true },
  { name: "earlier date", ifRange: SECOND_BEFORE, expected: false },
  { name: "later date", ifRange: SECOND_AFTER, expected: false },
  { name: "impossible date", ifRange: BAD_DATE, expected: false },
  { name: "exact date, modified 0.9 s ago (weak)", ifRange: SAME_SECOND, nowMs: MODIFIED_MS + 900, expected: false },
  { name: "exact date, modified 1 s ago (strong)", ifRange: SAME_SECOND, nowMs: MODIFIED_MS + 1000, expected: true },
];

for (const row of ifRangeRows) {
  Deno.test(`ifRangeAllowsRange: ${row.name}`, () => {
    assert.equal(
      ifRangeAllowsRange(row.ifRange, row.current ?? FILE, row.nowMs ?? LATER_NOW),
      row.expected,
    );
  });
}

const strong = (tag: string): EntityTag => ({ weak: false, tag });
const weak = (tag: string): EntityTag => ({ weak: true, tag });

// deno-fmt-ignore
const listRows: { name: string; value: string; expected: "*" | EntityTag[] }[] = [
  { name: "*", value: "*", expected: "*" },
  { name: "* with OWS", value: " \t* ", expected: "*" },
  { name: "one strong", value: '"a"', expected: [strong("a")] },
  { name: "one weak", value: 'W/"a"', expected: [weak("a")] },
  { name: "list with spaces", value: '"a", W/"b" ,"c"', expected: [strong("a"), weak("b"), strong("c")] },
  { name: "tabs and no spaces", value: '\t"a"\t,W/"b"', expected: [strong("a"), weak("b")] },
  { name: "empty members", value: ',"a",,,"b",', expected: [strong("a"), strong("b")] },
  { name: "empty opaque-tag", value: '"", W/""', expected: [strong(""), weak("")] },
  { name: "comma inside a tag", value: '"a,b", "c"', expected: [strong("a,b"), strong("c")] },
  { name: "obs-text", value: '"caf\u00e9"', expected: [strong("caf\u00e9")] },
  { name: "keeps duplicates in order", value: '"b", "a", "b"', expected: [strong("b"), strong("a"), strong("b")] },
  { name: "empty", value: "", expected: [] },
  { name: "only commas", value: " , ,", expected: [] },
  { name: "unquoted skipped", value: 'abc, "d"', expected: [strong("d")] },
  { name: "lowercase w/ skipped", value: 'w/"a", "b"', expected: [strong("b")] },
  { name: "space after W/ skipped", value: 'W/ "a", "b"', expected: [strong("b")] },
  { name: "* inside a list skipped", value: '"a", *', expected: [strong("a")] },
  { name: "* before a list skipped", value: '*, "a"', expected: [strong("a")] },
  { name: "two stars", value: "*, *", expected: [] },
  { name: "space inside a tag skipped", value: '"a b", "c"', expected: [strong("c")] },
  { name: "DEL inside a tag skipped", value: '"a\x7f", "c"', expected: [strong("c")] },
  { name: "control char inside a tag skipped", value: '"a\x01", "c"', expected: [strong("c")] },
  { name: "char above 0xFF skipped", value: '"\u20ac", "c"', expected: [strong("c")] },
  { name: "unterminated tag", value: '"abc', expected: [] },
  { name: "unterminated tag then valid", value: '"abc, "d"', expected: [strong("d")] },
  { name: "garbage after a tag skipped", value: '"a"x, "b"', expected: [strong("b")] },
  { name: "two tags without comma", value: '"a" "b"', expected: [] },
];

for (const row of listRows) {
  Deno.test(`parseETagList: ${row.name}`, () => {
    assert.deepEqual(parseETagList(row.value), row.expected);
  });
}
