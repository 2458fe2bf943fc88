/**
 * Tests of the worker supervisor (lib/server/workers.ts) through its API: the
 * first worker's bind error reaches the caller as serve()'s would, a worker
 * that dies is restarted and reported, and shutdown drains them all.
 *
 * @module
 */

import assert from "node:assert/strict";
import { serveWithWorkers } from "../lib/server/workers.ts";
import type { WorkerReports } from "../lib/server/workers.ts";
import { sendOne } from "./_helpers.ts";

function collecting(): WorkerReports & { notices: string[]; lines: string[] } {
  const notices: string[] = [];
  const lines: string[] = [];
  return {
    notices,
    lines,
    log: (line) => lines.push(line),
    error: (text) => notices.push(`error: ${text}`),
    notice: (text) => notices.push(text),
    swept: () => {},
  };
}

Deno.test({
  name: "a worker that dies is reported and restarted on the same port",
  ignore: Deno.build.os !== "linux",
  async fn() {
    const root = await Deno.makeTempDir();
    await Deno.writeTextFile(`${root}/a.txt`, "hello");
    const reports = collecting();
    const server = await serveWithWorkers(
      { root, hostname: "127.0.0.1", port: 0, fsync: false },
      1,
      "common",
      reports,
      new URL("./fixtures/crashing_worker.ts", import.meta.url),
    );
    try {
      assert.equal((await sendOne(server.port, "GET /a.txt HTTP/1.1")).status, 200);
      const deadline = Date.now() + 5000;
      while (!reports.notices.some((n) => n.includes("restarting")) && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      assert.ok(
        reports.notices.some((n) => /worker 0 died \(.*deliberate crash.*\); restarting/.test(n)),
        reports.notices.join(" | "),
      );
      // The new worker binds the same port.
      let status = 0;
      while (status !== 200 && Date.now() < deadline) {
        status = await sendOne(server.port, "GET /a.txt HTTP/1.1").then((r) => r.status, () => 0);
        if (status !== 200) await new Promise((resolve) => setTimeout(resolve, 50));
      }
      assert.equal(status, 200, "served again after the restart");
      assert.ok(reports.lines.some((line) => line.includes('"GET /a.txt HTTP/1.1" 200 5')));
    } finally {
      await server.shutdown();
      await Deno.remove(root, { recursive: true });
    }
  },
});

Deno.test("a port in use fails serveWithWorkers with AddrInUse, as serve() does", async () => {
  const root = await Deno.makeTempDir();
  const taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    await assert.rejects(
      serveWithWorkers(
        { root, hostname: "127.0.0.1", port: (taken.addr as Deno.NetAddr).port },
        2,
        null,
        collecting(),
      ),
      Deno.errors.AddrInUse,
    );
  } finally {
    taken.close();
    await Deno.remove(root, { recursive: true });
  }
});
