/**
 * Tests of `filedrop healthcheck [URL]` (lib/healthcheck.ts and main.ts), the
 * container's HEALTHCHECK: run as a user runs it against real servers on
 * 127.0.0.1, it exits 0 when the server answers below 500 and 1 (what Docker
 * reads as unhealthy) when it answers 500 or more, does not answer in time, or
 * is not there.
 */

import assert from "node:assert/strict";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { checkHealth } from "../lib/healthcheck.ts";
import { run, withServer } from "./_helpers.ts";

const MAIN = path.join(path.dirname(path.dirname(fileURLToPath(import.meta.url))), "main.ts");

function healthcheck(args: string[], env: Record<string, string> = {}) {
  return run(Deno.execPath(), ["run", "--allow-net", "--allow-env", MAIN, "healthcheck", ...args], {
    env: { NO_COLOR: "1", ...env },
  });
}

/** A port nothing listens on: bound, then closed. */
function closedPort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

Deno.test("healthcheck exits 0 for a server that answers, by URL or on PORT", async () => {
  await withServer({}, async (server) => {
    const url = `http://127.0.0.1:${server.addr.port}/`;
    const byUrl = await healthcheck([url]);
    assert.equal(byUrl.code, 0, byUrl.stderr);
    assert.equal(byUrl.stdout, `healthy: ${url} answered 200\n`);
    const byPort = await healthcheck([], { PORT: String(server.addr.port) });
    assert.equal(byPort.code, 0, byPort.stderr);
    assert.equal(byPort.stdout, `healthy: ${url} answered 200\n`);
  });
});

Deno.test("healthcheck counts a 401 (--auth-reads) as a server at work", async () => {
  await withServer({ auth: ["alice:secret"], authReads: true }, async (server) => {
    const result = await healthcheck([`http://127.0.0.1:${server.addr.port}/`]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /answered 401/);
  });
});

Deno.test("healthcheck exits 1 when nothing listens, or the server answers 500", async () => {
  const port = closedPort();
  const absent = await healthcheck([`http://127.0.0.1:${port}/`]);
  assert.equal(absent.code, 1);
  assert.equal(absent.stdout, "");
  assert.match(
    absent.stderr,
    new RegExp(`^filedrop: unhealthy: http://127.0.0.1:${port}/ did not answer`),
  );

  const failing = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    () => new Response("broken", { status: 503 }),
  );
  try {
    const result = await healthcheck([`http://127.0.0.1:${failing.addr.port}/`]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /unhealthy: .* answered 503/);
  } finally {
    await failing.shutdown();
  }
});

Deno.test("a server that accepts but never answers is unhealthy once the timeout passes", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const held: Deno.Conn[] = [];
  const accepting = (async () => {
    for await (const conn of listener) held.push(conn);
  })();
  try {
    const started = Date.now();
    const health = await checkHealth(`http://127.0.0.1:${listener.addr.port}/`, 300);
    assert.equal(health.healthy, false);
    assert.match(health.detail, /did not answer/);
    assert.ok(Date.now() - started < 3_000);
  } finally {
    listener.close();
    await accepting.catch(() => {});
    for (const conn of held) conn.close();
  }
});

Deno.test("healthcheck refuses a URL that is not http(s), or two of them, with exit 2", async () => {
  for (const args of [["ftp://127.0.0.1/"], ["not a url"], ["http://a/", "http://b/"]]) {
    const result = await healthcheck(args);
    assert.equal(result.code, 2, args.join(" "));
    assert.match(result.stderr, /^filedrop: healthcheck /);
  }
});
