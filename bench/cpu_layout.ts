/**
 * Which CPUs the servers and wrk are pinned to in each `--cores` mode, and
 * the `taskset` command lines that pin them.
 *
 * @module
 */

/** Where servers and wrk run, and how the report describes it. */
export interface CpuLayout {
  /** Cores each server may use (`--cores`): its workers, worker processes or GOMAXPROCS. */
  cores: number;
  /** CPUs every server is pinned to; null when nothing is pinned. */
  serverCpus: number[] | null;
  /** CPUs wrk is pinned to; null when nothing is pinned. */
  wrkCpus: number[] | null;
  /** wrk threads (`--threads`). */
  wrkThreads: number;
  /** Whether servers and wrk compete for the same CPUs (then wrk's CPU cost is in every req/s). */
  shared: boolean;
  /** One sentence for the report saying how the cores were shared. */
  description: string;
}

function cpuRange(count: number): number[] {
  return Array.from({ length: count }, (_, cpu) => cpu);
}

/**
 * Chooses the CPU layout for a `--cores` mode.
 *
 * - 1 (the default): servers on CPU 0, wrk with one thread on CPU 1, a core
 *   each, so wrk's own cost never slows a server.
 * - N > 1: servers with N workers and wrk with N threads, all pinned to
 *   CPUs 0 to N-1. On a machine with N cores there is no other way to give a
 *   server N of them, so both sides share every core.
 *
 * Without taskset, or with too few CPUs, nothing is pinned and the
 * description says why.
 *
 * @param cores the `--cores` option
 * @param cpuCount CPUs of this machine
 * @param tasksetMissing null when taskset is installed, else why pinning is impossible
 * @returns the layout
 */
export function cpuLayout(
  cores: number,
  cpuCount: number,
  tasksetMissing: string | null,
): CpuLayout {
  const needed = Math.max(cores, 2);
  const unpinnedReason = tasksetMissing ??
    (cpuCount < needed ? `only ${cpuCount} CPU${cpuCount === 1 ? "" : "s"}` : null);
  if (cores === 1) {
    return unpinnedReason === null
      ? {
        cores,
        serverCpus: [0],
        wrkCpus: [1],
        wrkThreads: 1,
        shared: false,
        description: "one core each: servers pinned to CPU 0, wrk (1 thread) to CPU 1 (taskset)",
      }
      : {
        cores,
        serverCpus: null,
        wrkCpus: null,
        wrkThreads: 1,
        shared: false,
        description: `one core per server, wrk 1 thread; no CPU pinning (${unpinnedReason})`,
      };
  }
  const cpus = cpuRange(cores);
  return unpinnedReason === null
    ? {
      cores,
      serverCpus: cpus,
      wrkCpus: cpus,
      wrkThreads: cores,
      shared: true,
      description: `${cores} cores shared: every server and wrk (${cores} threads) pinned to ` +
        `the same CPUs ${cpus.join(",")} (taskset); the machine has ${cpuCount} CPUs, so the ` +
        "load generator competes with the server for them",
    }
    : {
      cores,
      serverCpus: null,
      wrkCpus: null,
      wrkThreads: cores,
      shared: true,
      description: `${cores} cores per server, wrk ${cores} threads, sharing all CPUs; ` +
        `no CPU pinning (${unpinnedReason})`,
    };
}

/**
 * The command line that runs a program pinned to some CPUs. taskset execs
 * the program, so the spawned PID is the program's own.
 *
 * @param command the program
 * @param args its arguments
 * @param cpus CPUs to pin to; null runs it unpinned
 * @returns executable and arguments to spawn
 */
export function pinnedCommand(
  command: string,
  args: readonly string[],
  cpus: readonly number[] | null,
): { command: string; args: string[] } {
  if (cpus === null) return { command, args: [...args] };
  return { command: "taskset", args: ["-c", cpus.join(","), command, ...args] };
}
