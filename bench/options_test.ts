import assert from "node:assert/strict";
import { parseOptions } from "./options.ts";

const KNOWN = { servers: ["ours", "ref", "nginx"], cases: ["get-1k", "put-1k"] };

Deno.test("parseOptions: defaults", () => {
  assert.deepEqual(parseOptions([], KNOWN, "/out"), {
    only: null,
    cases: null,
    durationSeconds: 5,
    repeats: 3,
    connections: 50,
    warmupSeconds: 1,
    fsync: false,
    cores: 1,
    oursV8Flags: "semi4",
    outDir: "/out",
    keepTemp: false,
    help: false,
  });
});

Deno.test("parseOptions: every flag", () => {
  const options = parseOptions(
    [
      "--only",
      "ref, nginx,ref",
      "--cases=put-1k",
      "--duration",
      "2",
      "--repeats",
      "1",
      "--connections",
      "10",
      "--warmup",
      "0",
      "--fsync",
      "--cores",
      "2",
      "--ours-v8-flags=none",
      "--out",
      "/tmp/x",
      "--keep-temp",
    ],
    KNOWN,
    "/out",
  );
  assert.deepEqual(options.only, ["ref", "nginx"]);
  assert.deepEqual(options.cases, ["put-1k"]);
  assert.equal(options.durationSeconds, 2);
  assert.equal(options.repeats, 1);
  assert.equal(options.connections, 10);
  assert.equal(options.warmupSeconds, 0);
  assert.equal(options.fsync, true);
  assert.equal(options.cores, 2);
  assert.equal(options.oursV8Flags, "none");
  assert.equal(options.outDir, "/tmp/x");
  assert.equal(options.keepTemp, true);
});

Deno.test("parseOptions: rejects invalid input", () => {
  const cases: [string[], RegExp][] = [
    [["--only", "apache"], /unknown apache/],
    [["--only", ","], /at least one name/],
    [["--cases", "get-2k"], /unknown get-2k/],
    [["--duration", "0"], /--duration needs a whole number >= 1/],
    [["--duration", "1.5"], /--duration/],
    [["--repeats", "x"], /--repeats/],
    [["--connections", "-3"], /--connections/],
    [["--warmup", "-1"], /--warmup/],
    [["--cores", "0"], /--cores needs a whole number >= 1, got "0"/],
    [["--cores", "two"], /--cores/],
    [["--ours-v8-flags", "semi8"], /--ours-v8-flags must be semi4 or none, got "semi8"/],
    [["--ours-v8-flags", ""], /--ours-v8-flags must be/],
    [["extra"], /unexpected argument "extra"/],
    [["--bogus"], /bogus/],
  ];
  for (const [args, message] of cases) {
    assert.throws(() => parseOptions(args, KNOWN, "/out"), message, args.join(" "));
  }
});
