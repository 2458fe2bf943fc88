/**
 * Reads CPU time and memory of a process tree from Linux's /proc, so the
 * harness can charge a server for exactly the CPU it used during a run.
 *
 * @module
 */

/** The fields of /proc/PID/stat the harness uses. */
export interface ProcessStat {
  /** Process id. */
  pid: number;
  /** Parent process id. */
  ppid: number;
  /** Executable name (truncated by the kernel to 15 characters). */
  comm: string;
  /** User plus system CPU time of all its threads, in clock ticks. */
  ownTicks: number;
  /** User plus system CPU time of its reaped children, in clock ticks. */
  childTicks: number;
  /** Start time after boot in clock ticks; with the pid it identifies a process. */
  startTime: number;
}

/**
 * Parses the text of /proc/PID/stat.
 *
 * @param text the file's content
 * @returns the parsed fields
 * @throws Error when the text is not in the kernel's format
 */
export function parseProcStat(text: string): ProcessStat {
  // comm may hold spaces and parentheses; it ends at the last ')'.
  const open = text.indexOf("(");
  const close = text.lastIndexOf(")");
  if (open < 0 || close < open) throw new Error("malformed /proc stat line");
  const fields = text.slice(close + 2).trim().split(/\s+/);
  // fields[0] is field 3 (state) of proc(5); field n is fields[n - 3].
  const field = (n: number) => {
    const value = Number(fields[n - 3]);
    if (!Number.isFinite(value)) throw new Error(`malformed /proc stat field ${n}`);
    return value;
  };
  return {
    pid: Number(text.slice(0, open).trim()),
    ppid: field(4),
    comm: text.slice(open + 1, close),
    ownTicks: field(14) + field(15),
    childTicks: field(16) + field(17),
    startTime: field(22),
  };
}

/**
 * Reads one field in kB from the text of /proc/PID/status.
 *
 * @param text the file's content
 * @param name a field such as `VmHWM` or `VmRSS`
 * @returns the value in KiB, or null when the field is absent
 */
export function parseStatusKiB(text: string, name: string): number | null {
  const match = text.match(new RegExp(`^${name}:\\s+(\\d+) kB$`, "m"));
  return match === null ? null : Number(match[1]);
}

/**
 * Reads /proc/PID/stat.
 *
 * @param pid the process id
 * @returns its stat, or null when the process is gone
 */
export function readProcessStat(pid: number): ProcessStat | null {
  try {
    return parseProcStat(Deno.readTextFileSync(`/proc/${pid}/stat`));
  } catch {
    return null;
  }
}

/**
 * Finds a process and all its live descendants by scanning /proc.
 *
 * @param rootPid the tree's root
 * @returns the stats of the root (first) and its descendants; empty if the root is gone
 */
export function processTree(rootPid: number): ProcessStat[] {
  const root = readProcessStat(rootPid);
  if (root === null) return [];
  const childrenOf = new Map<number, ProcessStat[]>();
  for (const entry of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    const stat = readProcessStat(Number(entry.name));
    if (stat === null) continue;
    const siblings = childrenOf.get(stat.ppid) ?? [];
    siblings.push(stat);
    childrenOf.set(stat.ppid, siblings);
  }
  const tree = [root];
  for (let index = 0; index < tree.length; index++) {
    tree.push(...(childrenOf.get(tree[index].pid) ?? []));
  }
  return tree;
}

/**
 * Total CPU time of a set of processes, counting reaped children too.
 *
 * @param pids the processes
 * @returns clock ticks; processes that are gone count as 0
 */
export function cpuTicks(pids: readonly number[]): number {
  let total = 0;
  for (const pid of pids) {
    const stat = readProcessStat(pid);
    if (stat !== null) total += stat.ownTicks + stat.childTicks;
  }
  return total;
}

/**
 * Sums a memory field of /proc/PID/status over processes.
 *
 * @param pids the processes
 * @param name `VmHWM` (peak resident set) or `VmRSS` (current)
 * @returns KiB; processes that are gone count as 0
 */
export function memoryKiB(pids: readonly number[], name: "VmHWM" | "VmRSS"): number {
  let total = 0;
  for (const pid of pids) {
    try {
      total += parseStatusKiB(Deno.readTextFileSync(`/proc/${pid}/status`), name) ?? 0;
    } catch {
      // The process exited between the scan and this read.
    }
  }
  return total;
}

/**
 * Resets the peak resident set size (VmHWM) of processes to their current
 * size, so that VmHWM afterwards is the peak of one run only.
 *
 * @param pids the processes
 * @returns true when every reset worked (needs the same user or root)
 */
export function resetPeakMemory(pids: readonly number[]): boolean {
  let allReset = true;
  for (const pid of pids) {
    try {
      // "5" is the documented clear_refs value that resets VmHWM (proc(5)).
      Deno.writeTextFileSync(`/proc/${pid}/clear_refs`, "5");
    } catch {
      allReset = false;
    }
  }
  return allReset;
}

/**
 * The kernel's clock tick rate for /proc CPU times (USER_HZ).
 *
 * @returns ticks per second, from `getconf CLK_TCK`, else 100
 */
export function clockTicksPerSecond(): number {
  try {
    const output = new Deno.Command("getconf", { args: ["CLK_TCK"], stderr: "null" }).outputSync();
    const ticks = Number(new TextDecoder().decode(output.stdout).trim());
    if (output.success && Number.isInteger(ticks) && ticks > 0) return ticks;
  } catch {
    // getconf missing: fall through to USER_HZ of x86 and arm Linux.
  }
  return 100;
}

/**
 * Sums the busy time (everything but idle and iowait) of some CPUs from the
 * text of /proc/stat.
 *
 * @param text the file's content
 * @param cpus CPU numbers, or null for the all-CPU total line
 * @returns clock ticks
 */
export function parseCpuBusyTicks(text: string, cpus: readonly number[] | null): number {
  const wanted = cpus === null ? ["cpu"] : cpus.map((cpu) => `cpu${cpu}`);
  let total = 0;
  for (const line of text.split("\n")) {
    const [name, ...values] = line.trim().split(/\s+/);
    if (!wanted.includes(name)) continue;
    // user nice system idle iowait irq softirq steal (guest time is already in user).
    const [user, nice, system, _idle, _iowait, irq, softirq, steal] = values.map(Number);
    total += user + nice + system + (irq ?? 0) + (softirq ?? 0) + (steal ?? 0);
  }
  return total;
}

/**
 * Reads the busy time of some CPUs from /proc/stat.
 *
 * @param cpus CPU numbers, or null for all CPUs together
 * @returns clock ticks, 0 when /proc/stat cannot be read
 */
export function cpuBusyTicks(cpus: readonly number[] | null): number {
  try {
    return parseCpuBusyTicks(Deno.readTextFileSync("/proc/stat"), cpus);
  } catch {
    return 0;
  }
}
