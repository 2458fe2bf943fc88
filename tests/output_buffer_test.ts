import assert from "node:assert/strict";
import { OutputBuffer } from "../lib/server/output_buffer.ts";

/** An OutputBuffer whose socket is a byte list, taking at most `perWrite` bytes per write. */
function capture(perWrite = Infinity) {
  const sent: number[] = [];
  const output = new OutputBuffer((bytes) => {
    const n = Math.min(bytes.length, perWrite);
    sent.push(...bytes.subarray(0, n));
    return Promise.resolve(n);
  });
  return { output, sent: () => new TextDecoder().decode(new Uint8Array(sent)) };
}

Deno.test("OutputBuffer: a head and a small body leave together", async () => {
  const { output, sent } = capture();
  output.writeStatusLine(200);
  output.writeField("Content-Length", "2");
  output.endHead();
  assert.equal(output.buffered, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n".length);
  await output.write(new TextEncoder().encode("hi"));
  await output.flush();
  output.release();
  assert.equal(sent(), "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi");
  assert.equal(output.bytesSent, sent().length);
});

Deno.test("OutputBuffer: a head larger than the buffer grows it, in pieces the socket takes", async () => {
  const { output, sent } = capture(1000);
  const fields = Array.from({ length: 40 }, (_, i) => [`X-${i}`, String(i).repeat(500)] as const);
  output.writeStatusLine(204);
  for (const [name, value] of fields) output.writeField(name, value);
  output.endHead();
  await output.flush();
  output.release();
  const expected = "HTTP/1.1 204 No Content\r\n" +
    fields.map(([n, v]) => `${n}: ${v}\r\n`).join("") + "\r\n";
  assert.equal(sent(), expected);
});

Deno.test("OutputBuffer: a field with a line break throws and adds nothing", () => {
  const { output } = capture();
  output.writeStatusLine(200);
  const before = output.buffered;
  assert.throws(() => output.writeField("X", "a\r\nInjected: yes"), /line break/);
  assert.equal(output.buffered, before);
});
