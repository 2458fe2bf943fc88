/**
 * Measures the memory an idle keep-alive connection costs the server: spawns
 * the server, opens N connections that each make one request and then sit
 * idle, and compares the server's RSS before and after.
 *
 * Run with `deno task bench:idle [-- --connections 500]`.
 *
 * @module
 */

import { parseArgs } from "node:util";

const { values } = parseArgs({ options: { connections: { type: "string", default: "500" } } });
const count = Number(values.connections);
const root = await Deno.makeTempDir();
await Deno.writeTextFile(`${root}/a.txt`, "a");
const server = new Deno.Command(Deno.execPath(), {
  args: [
    "run",
    "--allow-net",
    "--allow-read",
    "--allow-write",
    new URL("../main.ts", import.meta.url).pathname,
    "--port",
    "0",
    "--quiet",
    root,
  ],
  stdout: "piped",
  stderr: "inherit",
}).spawn();

function rssKiB(pid: number): number {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  return Number(/VmRSS:\s+(\d+)/.exec(status)![1]);
}

const conns: Deno.Conn[] = [];
try {
  const reader = server.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let banner = "";
  while (!banner.includes("\n")) banner += (await reader.read()).value ?? "";
  const port = Number(/:(\d+)\//.exec(banner)![1]);
  const request = new TextEncoder().encode("GET /a.txt HTTP/1.1\r\nHost: localhost\r\n\r\n");
  const buffer = new Uint8Array(4096);
  // Warm up, then let the heap settle before the baseline.
  for (let i = 0; i < 200; i++) {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    await conn.write(request);
    await conn.read(buffer);
    conn.close();
  }
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const before = rssKiB(server.pid);
  for (let i = 0; i < count; i++) {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    await conn.write(request);
    await conn.read(buffer);
    conns.push(conn);
  }
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const after = rssKiB(server.pid);
  console.log(
    `${count} idle keep-alive connections: RSS ${(before / 1024).toFixed(1)} MiB -> ` +
      `${(after / 1024).toFixed(1)} MiB, ${
        ((after - before) / count).toFixed(1)
      } KiB per connection`,
  );
  await reader.cancel();
} finally {
  for (const conn of conns) conn.close();
  server.kill("SIGTERM");
  await server.status;
  await Deno.remove(root, { recursive: true });
}
