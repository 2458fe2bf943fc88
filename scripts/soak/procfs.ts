/**
 * What the soak test reads about the server process from Linux's /proc: its
 * resident memory and its open sockets, and the kernel's count of TCP resets
 * sent. Read through `sh`: Deno grants /proc/PID files only with --allow-all,
 * and the soak task runs with --allow-run.
 *
 * @module
 */

/** The text `sh -c script pid` prints; throws when it fails. */
async function shell(script: string, pid: number): Promise<string> {
  const output = await new Deno.Command("sh", {
    args: ["-c", script, String(pid)],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!output.success) throw new Error(new TextDecoder().decode(output.stderr).trim());
  return new TextDecoder().decode(output.stdout);
}

/** VmRSS of `pid` in bytes; null when the field is absent. */
export async function readRssBytes(pid: number): Promise<number | null> {
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(await shell('cat "/proc/$0/status"', pid));
  return match === null ? null : Number(match[1]) * 1024;
}

/** The number of threads of `pid` (each may hold a malloc arena: native memory grows with them). */
export async function readThreads(pid: number): Promise<number | null> {
  const match = /^Threads:\s+(\d+)$/m.exec(await shell('cat "/proc/$0/status"', pid));
  return match === null ? null : Number(match[1]);
}

const TCP_STATES: Record<string, string> = {
  "01": "ESTABLISHED",
  "02": "SYN_SENT",
  "03": "SYN_RECV",
  "04": "FIN_WAIT1",
  "05": "FIN_WAIT2",
  "06": "TIME_WAIT",
  "07": "CLOSE",
  "08": "CLOSE_WAIT",
  "09": "LAST_ACK",
  "0A": "LISTEN",
  "0B": "CLOSING",
};

/** The sockets a process holds open. */
export interface SocketCount {
  /** Open file descriptors of any kind (a leaked file handle shows here). */
  fds: number;
  /** File descriptors that are sockets (`socket:[inode]`), of any kind. */
  socketFds: number;
  /** Those that are listening TCP sockets. */
  listeners: number;
  /** Those that are other TCP sockets, by state (ESTABLISHED, CLOSE_WAIT, ...). */
  tcpByState: Record<string, number>;
  /**
   * Descriptors of the store's own lock and owner files (not in `fds`): the
   * store keeps each open once opened, so their number only grows to the
   * number of such files (256 lock stripes and one owner file at most).
   */
  stateFds: number;
  /** How many of those are a second (or later) descriptor of a file already open: a leak. */
  stateDuplicates: number;
}

/**
 * The store's state directory under ROOT (lib/storage/temp_files.ts STATE_DIR),
 * spelled out so a rename there is noticed.
 */
const STATE_DIR_PART = "/.filedrop-tmp-state/";

/**
 * Parses the output of `ls -l /proc/PID/fd` followed by a line `==` and the
 * text of /proc/PID/net/tcp and tcp6.
 */
export function parseSockets(text: string): SocketCount {
  const [fdText, tcpText = ""] = text.split("\n==\n");
  const inodes = new Set([...fdText.matchAll(/socket:\[(\d+)\]/g)].map((m) => m[1]));
  let listeners = 0;
  const tcpByState: Record<string, number> = {};
  for (const line of tcpText.split("\n")) {
    // sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode
    const fields = line.trim().split(/\s+/);
    if (fields.length < 10 || !/^\d+:$/.test(fields[0]) || !inodes.has(fields[9])) continue;
    const state = TCP_STATES[fields[3]] ?? fields[3];
    if (state === "LISTEN") listeners++;
    else tcpByState[state] = (tcpByState[state] ?? 0) + 1;
  }
  const targets = fdText.split("\n").filter((line) => line.includes(" -> ")).map((line) =>
    line.slice(line.indexOf(" -> ") + 4)
  );
  // The owner file (locked for the process's life to show other instances it
  // is alive) and the lock stripes (kept open between writes) are a bounded
  // set, not a leak, as long as no file of theirs is open twice.
  const state = targets.filter((target) => target.includes(STATE_DIR_PART));
  return {
    fds: targets.length - state.length,
    socketFds: inodes.size,
    listeners,
    tcpByState,
    stateFds: state.length,
    stateDuplicates: state.length - new Set(state).size,
  };
}

/** The sockets `pid` holds open now. */
export async function readSockets(pid: number): Promise<SocketCount> {
  return parseSockets(
    await shell(
      'ls -l "/proc/$0/fd"; echo ==; cat "/proc/$0/net/tcp" "/proc/$0/net/tcp6" 2>/dev/null; true',
      pid,
    ),
  );
}

/** The kernel's count of TCP resets sent since boot (all processes: loopback carries both sides). */
export async function readTcpOutRsts(): Promise<number | null> {
  const lines = (await shell("cat /proc/net/snmp", 0)).split("\n").filter((l) =>
    l.startsWith("Tcp:")
  );
  if (lines.length < 2) return null;
  const names = lines[0].split(/\s+/);
  const values = lines[1].split(/\s+/);
  const index = names.indexOf("OutRsts");
  return index === -1 ? null : Number(values[index]);
}
