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

/** JavaScript that spins until the thread (or process) it reads has used `ticks` of CPU time. */
function burnSource(statPath: string, ticks: number): string {
  return `
    const used = () => {
      const text = Deno.readTextFileSync("${statPath}");
      const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
      return Number(fields[11]) + Number(fields[12]);
    };
    while (used() < ${ticks}) for (let i = 0; i < 1e5; i++) Math.sqrt(i);
  `;
}

/** Spawns `deno eval` and waits for it to print a line containing `marker`. */
async function spawnUntil(source: string, marker: string) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["eval", source],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  let output = "";
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  while (!output.includes(marker)) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`exited before printing ${marker}: ${output}`);
    output += value;
  }
  reader.releaseLock();
  return { child, output };
}

const BURN_TICKS = 30;

Deno.test({
  name: "cpuTicks: counts the CPU time of a Web Worker, a thread of the same process (Linux)",
  ignore: Deno.build.os !== "linux",
  fn: async () => {
    const worker = `${burnSource("/proc/thread-self/stat", BURN_TICKS)} postMessage("burned");`;
    const { child } = await spawnUntil(
      `const worker = new Worker("data:application/javascript," +
         encodeURIComponent(${JSON.stringify(worker)}), { type: "module" });
       worker.onmessage = () => console.log("burned");
       setInterval(() => {}, 1000);`,
      "burned",
    );
    try {
      // The oracle: the kernel's per-thread files, which the harness never reads.
      const threads = [...Deno.readDirSync(`/proc/${child.pid}/task`)].map((entry) => {
        const stat = parseProcStat(
          Deno.readTextFileSync(`/proc/${child.pid}/task/${entry.name}/stat`),
        );
        return { tid: stat.pid, ticks: stat.ownTicks };
      });
      const busiest = threads.filter((thread) => thread.tid !== child.pid)
        .reduce((a, b) => a.ticks >= b.ticks ? a : b);
      assert.ok(busiest.ticks >= BURN_TICKS, `worker thread used ${busiest.ticks} ticks`);
      const threadSum = threads.reduce((sum, thread) => sum + thread.ticks, 0);
      const counted = cpuTicks(processTree(child.pid).map((stat) => stat.pid));
      assert.ok(counted >= busiest.ticks, `counted ${counted}, worker thread ${busiest.ticks}`);
      // Process totals and per-thread figures are rounded separately: allow a few ticks.
      // (A thread that has exited counts in the total but has no file: no upper bound.)
      assert.ok(counted >= threadSum - 5, `counted ${counted}, threads ${threadSum}`);
    } finally {
      child.kill("SIGKILL");
      await child.status;
    }
  },
});

Deno.test({
  name: "processTree and cpuTicks: count two busy worker processes of an idle parent (Linux)",
  ignore: Deno.build.os !== "linux",
  fn: async () => {
    // Like nginx: a master that only waits, and two workers that do the work.
    const burner = `${burnSource("/proc/self/stat", BURN_TICKS)}
      console.log("burned " + Deno.pid); setInterval(() => {}, 1000);`;
    const { child, output } = await spawnUntil(
      `const spawnBurner = async () => {
         const worker = new Deno.Command(Deno.execPath(), {
           args: ["eval", ${JSON.stringify(burner)}], stdout: "piped",
         }).spawn();
         const reader = worker.stdout.pipeThrough(new TextDecoderStream()).getReader();
         let text = "";
         while (!text.includes("\\n")) text += (await reader.read()).value ?? "";
         return text.trim();
       };
       const lines = await Promise.all([spawnBurner(), spawnBurner()]);
       console.log("ready " + lines.join(" "));
       setInterval(() => {}, 1000);`,
      "ready",
    );
    const workerPids = [...output.matchAll(/burned (\d+)/g)].map((match) => Number(match[1]));
    try {
      assert.equal(workerPids.length, 2, output);
      const tree = processTree(child.pid).map((stat) => stat.pid);
      for (const pid of workerPids) assert.ok(tree.includes(pid), `${pid} not in ${tree}`);
      const workersTicks = cpuTicks(tree) - cpuTicks([child.pid]);
      assert.ok(workersTicks >= 2 * BURN_TICKS, `workers counted ${workersTicks} ticks`);
    } finally {
      for (const pid of workerPids) {
        try {
          Deno.kill(pid, "SIGKILL");
        } catch {
          // Already gone.
        }
      }
      child.kill("SIGKILL");
      await child.status;
    }
  },
});
