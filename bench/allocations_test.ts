import assert from "node:assert/strict";
import { bytesByFunction } from "./allocations.ts";
import type { ProfileNode } from "./allocations.ts";

function node(
  name: string,
  url: string,
  line: number,
  selfSize: number,
  children: ProfileNode[] = [],
): ProfileNode {
  return { callFrame: { functionName: name, url, lineNumber: line }, selfSize, children };
}

Deno.test("bytesByFunction: sums a function's bytes over every call path, names anonymous ones", () => {
  const root = node("(root)", "", -1, 0, [
    node("serve", "file:///x/lib/server/connection.ts", 9, 100, [
      node("write", "file:///x/lib/server/output.ts", 19, 40),
      node("", "file:///x/lib/a/b.ts", 0, 5),
    ]),
    node("write", "file:///x/lib/server/output.ts", 19, 60),
  ]);
  assert.deepEqual(
    [...bytesByFunction(root)].filter(([, bytes]) => bytes > 0),
    [
      ["serve server/connection.ts:10", 100],
      ["write server/output.ts:20", 100],
      ["(anonymous) a/b.ts:1", 5],
    ],
  );
});
