import assert from "node:assert/strict";
import {
  LAST_CHUNK,
  NO_ROOM,
  serializeHead,
  writeField,
  writeLineEnd,
  writeStatusLine,
} from "../lib/http/serialize.ts";

const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

Deno.test("serializeHead: status line, fields in order, blank line", () => {
  assert.equal(
    serializeHead(204, [["Date", "Sun, 06 Nov 1994 08:49:37 GMT"], ["X-A", ""]]),
    "HTTP/1.1 204 No Content\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\nX-A: \r\n\r\n",
  );
  assert.equal(serializeHead(404, []), "HTTP/1.1 404 Not Found\r\n\r\n");
  assert.equal(text(LAST_CHUNK), "0\r\n\r\n");
});

Deno.test("writeField: ASCII byte by byte, the rest of a value as UTF-8", () => {
  const target = new Uint8Array(64);
  const end = writeField("Content-Disposition", "inline; x=ümlaut€", target, 3);
  const expected = new TextEncoder().encode("Content-Disposition: inline; x=ümlaut€\r\n");
  assert.equal(end, 3 + expected.length);
  assert.deepEqual(target.subarray(3, end), expected);
  // A head longer than the first scratch buffer still comes out whole.
  const long = "v".repeat(5000) + "é";
  assert.equal(
    serializeHead(200, [["X-Long", long]]),
    `HTTP/1.1 200 OK\r\nX-Long: ${long}\r\n\r\n`,
  );
});

Deno.test("writeField: CR, LF or NUL anywhere in a name or value throws", () => {
  const target = new Uint8Array(256);
  for (const bad of ["a\rb", "a\nb", "a\0b", "é\r", "é\nx", "\u0000"]) {
    assert.throws(() => writeField("X", bad, target, 0), /line break/, JSON.stringify(bad));
    assert.throws(() => writeField(bad, "v", target, 0), /line break/, JSON.stringify(bad));
    assert.throws(() => serializeHead(200, [["X", bad]]), /line break/);
  }
});

Deno.test("write functions: NO_ROOM at every size short of the need, the offset past it at the exact size", () => {
  const cases: [string, (target: Uint8Array) => number][] = [
    ["status", (t) => writeStatusLine(200, t, 0)],
    ["field", (t) => writeField("Etag", '"ä1"', t, 0)],
    ["line end", (t) => writeLineEnd(t, 0)],
  ];
  for (const [name, write] of cases) {
    const need = write(new Uint8Array(100));
    assert.ok(need > 0, name);
    for (let size = 0; size < need; size++) {
      assert.equal(write(new Uint8Array(size)), NO_ROOM, `${name} in ${size}`);
    }
    assert.equal(write(new Uint8Array(need)), need, name);
  }
  assert.equal(writeLineEnd(new Uint8Array(8), NO_ROOM), NO_ROOM, "NO_ROOM carries through");
  assert.equal(writeField("A", "b", new Uint8Array(8), NO_ROOM), NO_ROOM);
});
