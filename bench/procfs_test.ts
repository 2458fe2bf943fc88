import assert from "node:assert/strict";
import {
  cpuTicks,
  parseCpuBusyTicks,
  parseProcStat,
  parseStatusKiB,
  processTree,
} from "./procfs.ts";

Deno.test("parseProcStat: reads fields after a comm with spaces and parentheses", () => {
  const line = "4242 (a (weird) name) S 17 4242 4242 0 -1 4194560 100 0 0 0 " +
    "250 75 30 12 20 0 9 0 123456 1000000 500 18446744073709551615";
  assert.deepEqual(parseProcStat(line), {
    pid: 4242,
    ppid: 17,
    comm: "a (weird) name",
    ownTicks: 325,
    childTicks: 42,
    startTime: 123456,
  });
});

Deno.test("parseProcStat: rejects malformed text", () => {
  assert.throws(() => parseProcStat("garbage"), /malformed/);
  assert.throws(() => parseProcStat("1 (x) S 1"), /malformed/);
});

Deno.test("parseStatusKiB: picks a named field", () => {
  const status = "Name:\tdeno\nVmPeak:\t  900 kB\nVmHWM:\t   51234 kB\nVmRSS:\t   40000 kB\n";
  assert.equal(parseStatusKiB(status, "VmHWM"), 51234);
  assert.equal(parseStatusKiB(status, "VmRSS"), 40000);
  assert.equal(parseStatusKiB(status, "VmSwap"), null);
});

Deno.test({
  name:
    "processTree and cpuTicks: see a child process and this process's CPU time (Linux: reads /proc)",
  // /proc is Linux's; CI also runs on macOS and Windows, where this reports "ignored".
  ignore: Deno.build.os !== "linux",
  fn: async () => {
    const child = new Deno.Command("sleep", { args: ["5"] }).spawn();
    try {
      const tree = processTree(Deno.pid).map((stat) => stat.pid);
      assert.equal(tree[0], Deno.pid);
      assert.ok(tree.includes(child.pid));
      // Burn some CPU so this process has used at least one tick.
      const until = performance.now() + 50;
      while (performance.now() < until) Math.sqrt(Math.random());
      assert.ok(cpuTicks([Deno.pid]) > 0);
      assert.equal(processTree(2 ** 22 + 1).length, 0);
    } finally {
      child.kill("SIGKILL");
      await child.status;
    }
  },
});

Deno.test("parseCpuBusyTicks: sums busy fields of chosen CPUs, skipping idle and iowait", () => {
  const stat = [
    "cpu  300 10 200 9000 50 5 15 0 0 0",
    "cpu0 100 0 100 4000 20 2 5 0 0 0",
    "cpu1 200 10 100 5000 30 3 10 1 0 0",
    "intr 12345",
    "ctxt 999",
  ].join("\n");
  const table: [number[] | null, number][] = [
    [[0], 207],
    [[1], 324],
    [[0, 1], 531],
    [null, 530],
    [[7], 0],
  ];
  for (const [cpus, expected] of table) assert.equal(parseCpuBusyTicks(stat, cpus), expected);
});
