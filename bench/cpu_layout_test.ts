import assert from "node:assert/strict";
import { cpuLayout, pinnedCommand } from "./cpu_layout.ts";
import { findExecutable } from "./servers.ts";

Deno.test("cpuLayout: --cores 1 gives servers CPU 0 and wrk CPU 1, one thread", () => {
  const layout = cpuLayout(1, 2, null);
  assert.deepEqual(layout.serverCpus, [0]);
  assert.deepEqual(layout.wrkCpus, [1]);
  assert.equal(layout.wrkThreads, 1);
  assert.equal(layout.shared, false);
  assert.match(layout.description, /servers pinned to CPU 0, wrk \(1 thread\) to CPU 1/);
});

Deno.test("cpuLayout: --cores 2 pins servers and wrk (2 threads) to the same CPUs 0,1", () => {
  const layout = cpuLayout(2, 2, null);
  assert.deepEqual(layout.serverCpus, [0, 1]);
  assert.deepEqual(layout.wrkCpus, [0, 1]);
  assert.equal(layout.wrkThreads, 2);
  assert.equal(layout.shared, true);
  assert.match(layout.description, /2 cores shared: .* same CPUs 0,1 .* the machine has 2 CPUs/);
  assert.deepEqual(cpuLayout(3, 8, null).serverCpus, [0, 1, 2]);
});

Deno.test("cpuLayout: no pinning without taskset or with too few CPUs, and says why", () => {
  const table: [number, number, string | null, RegExp][] = [
    [1, 1, null, /no CPU pinning \(only 1 CPU\)/],
    [1, 4, "taskset not found", /no CPU pinning \(taskset not found\)/],
    [2, 1, null, /no CPU pinning \(only 1 CPU\)/],
    [4, 2, null, /no CPU pinning \(only 2 CPUs\)/],
  ];
  for (const [cores, cpuCount, tasksetMissing, description] of table) {
    const layout = cpuLayout(cores, cpuCount, tasksetMissing);
    assert.equal(layout.serverCpus, null);
    assert.equal(layout.wrkCpus, null);
    assert.equal(layout.wrkThreads, cores);
    assert.equal(layout.shared, cores > 1);
    assert.match(layout.description, description);
  }
});

Deno.test("pinnedCommand: taskset -c with a CPU list, or the bare command", () => {
  assert.deepEqual(pinnedCommand("/usr/sbin/nginx", ["-c", "x.conf"], [0, 1]), {
    command: "taskset",
    args: ["-c", "0,1", "/usr/sbin/nginx", "-c", "x.conf"],
  });
  assert.deepEqual(pinnedCommand("/usr/sbin/nginx", ["-c", "x.conf"], [0]), {
    command: "taskset",
    args: ["-c", "0", "/usr/sbin/nginx", "-c", "x.conf"],
  });
  assert.deepEqual(pinnedCommand("wrk", ["-v"], null), { command: "wrk", args: ["-v"] });
});

Deno.test({
  name: "pinnedCommand: taskset really confines the process to the CPUs given (Linux)",
  ignore: Deno.build.os !== "linux" || navigator.hardwareConcurrency < 2 ||
    findExecutable("taskset") === null,
  fn: async () => {
    for (const cpus of [[1], [0, 1]]) {
      const { command, args } = pinnedCommand(
        "grep",
        ["Cpus_allowed_list", "/proc/self/status"],
        cpus,
      );
      const output = await new Deno.Command(command, { args }).output();
      assert.ok(output.success);
      const expected = cpus.length === 1 ? String(cpus[0]) : `${cpus[0]}-${cpus.at(-1)}`;
      assert.match(new TextDecoder().decode(output.stdout), new RegExp(`:\\s+${expected}\\n`));
    }
  },
});
