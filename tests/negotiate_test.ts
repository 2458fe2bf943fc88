import assert from "node:assert/strict";
import { chooseCoding } from "../lib/content/negotiate.ts";
import type { Coding } from "../lib/content/negotiate.ts";

const both: Coding[] = ["br", "gzip"];

Deno.test("chooseCoding follows q-values, then the server's preference", () => {
  const rows: [string | undefined, Coding[], Coding | null][] = [
    [undefined, both, null],
    ["", both, null],
    ["gzip", both, "gzip"],
    ["gzip, br", both, "br"],
    ["br;q=0.5, gzip", both, "gzip"],
    ["gzip;q=0, br;q=0", both, null],
    ["*", both, "br"],
    ["*;q=0.1, br;q=0", both, "gzip"],
    ["identity", both, null],
    ["x-gzip", both, "gzip"],
    ["GZIP", both, "gzip"],
    ["gzip;q=2", both, null], // malformed q: the member is ignored
    ["gzip;q=0.001", both, "gzip"],
    ["deflate, gzip;q=0.8", ["br"], null],
    ["br", ["gzip"], null],
    ["gzip ; q=0.5 , br ; q=0.4", both, "gzip"],
    ["gzip", [], null],
  ];
  for (const [header, available, expected] of rows) {
    assert.equal(chooseCoding(header, available), expected, `${header} / ${available}`);
  }
});
