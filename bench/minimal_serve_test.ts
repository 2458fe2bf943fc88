import assert from "node:assert/strict";
import { join } from "node:path";

/**
 * The minimal server must answer the benchmark's cases as a real server would, or its
 * figures would mean nothing: curl (an independent client) checks each.
 */
Deno.test("minimal_serve: answers the benchmark's cases like a file server", async () => {
  const root = await Deno.makeTempDir();
  await Deno.mkdir(join(root, "uploads"));
  await Deno.writeFile(join(root, "1k.bin"), new Uint8Array(1024).fill(7));
  const large = crypto.getRandomValues(new Uint8Array(65536)).map((b) => b % 200);
  const twoMiB = new Uint8Array(2 * 1024 * 1024).map((_, i) => large[i % large.length] + (i >> 16));
  await Deno.writeFile(join(root, "2m.bin"), twoMiB);
  const server = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-all",
      new URL("./minimal_serve.ts", import.meta.url).pathname,
      "--port",
      "0",
      root,
    ],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  try {
    const reader = server.stdout.pipeThrough(new TextDecoderStream()).getReader();
    const { value } = await reader.read();
    const base = /http:\/\/[^ ]+\//.exec(value ?? "")?.[0];
    assert.ok(base, `no address in ${value}`);
    reader.releaseLock();
    const curl = async (...args: string[]) => {
      const out = await new Deno.Command("curl", { args: ["-s", ...args], stdout: "piped" })
        .output();
      return new TextDecoder().decode(out.stdout);
    };
    const status = (...args: string[]) =>
      curl("-o", "/dev/null", "-w", "%{http_code} %{size_download}", ...args);

    assert.equal(await status(`${base}1k.bin`), "200 1024");
    assert.equal(await status(`${base}missing`), "404 10");
    const etag = /etag: (\S+)/i.exec(await curl("-I", `${base}1k.bin`))?.[1];
    assert.ok(etag);
    assert.equal(await status("-H", `If-None-Match: ${etag}`, `${base}1k.bin`), "304 0");
    assert.equal(await status("-H", "Connection: close", `${base}1k.bin`), "200 1024");
    assert.equal(
      await status("--data-binary", "hello", "-X", "PUT", `${base}uploads/a.txt`),
      "201 0",
    );
    assert.equal(
      await status("--data-binary", "again", "-X", "PUT", `${base}uploads/a.txt`),
      "204 0",
    );
    assert.equal(await Deno.readTextFile(join(root, "uploads", "a.txt")), "again");
    // A file above the in-memory limit is streamed; an upload larger than the head buffer is stored whole.
    await Deno.writeFile(join(root, "body.bin"), twoMiB.subarray(1000));
    assert.equal(await status(`${base}2m.bin`), `200 ${twoMiB.length}`);
    await new Deno.Command("curl", {
      args: ["-s", "-o", join(root, "fetched.bin"), `${base}2m.bin`],
    }).output();
    assert.deepEqual(await Deno.readFile(join(root, "fetched.bin")), twoMiB);
    assert.equal(await status("-T", join(root, "body.bin"), `${base}uploads/big.bin`), "201 0");
    assert.deepEqual(await Deno.readFile(join(root, "uploads", "big.bin")), twoMiB.subarray(1000));
    // fetch sends its fields in lower case: an upload's length is still read.
    const put = await fetch(`${base}uploads/lower.bin`, {
      method: "PUT",
      body: twoMiB.subarray(5),
    });
    assert.equal(put.status, 201);
    await put.body?.cancel();
    assert.deepEqual(await Deno.readFile(join(root, "uploads", "lower.bin")), twoMiB.subarray(5));
    // Two requests on one connection: keep-alive works.
    const twice = await curl(
      "-o",
      "/dev/null",
      "-o",
      "/dev/null",
      "-w",
      "%{http_code} %{num_connects};",
      `${base}1k.bin`,
      `${base}missing`,
    );
    assert.equal(twice, "200 1;404 0;");
  } finally {
    server.kill();
    await server.status;
    await server.stdout.cancel().catch(() => {});
    await Deno.remove(root, { recursive: true });
  }
});
