/**
 * Reset storms through a small Python helper. Deno cannot set SO_LINGER, and
 * its other way to a reset (closing with unread data, see `RawClient.close`)
 * needs a server that has already answered. A socket closed with SO_LINGER
 * {on, 0} sends a RST at once, at any moment: right after the handshake,
 * while the connection still waits in the accept queue, which is what an
 * attacker's reset storm does.
 *
 * @module
 */

const PYTHON = "/usr/bin/python3";

/**
 * Reads lines `COUNT PORT MODE`; opens COUNT connections, then resets them
 * all; prints `opened failed`. MODE: `accept` resets right after the
 * handshake; `head` first sends part of a request head; `body` part of an
 * upload body.
 */
const HELPER = `
import socket, struct, sys, time
LINGER = struct.pack("ii", 1, 0)
for line in sys.stdin:
    count, port, mode = line.split()
    socks, failed = [], 0
    for _ in range(int(count)):
        try:
            s = socket.create_connection(("127.0.0.1", int(port)), timeout=5)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, LINGER)
            if mode == "head":
                s.sendall(b"GET /s HTTP/1.1\\r\\nHost: 127.0.0.1\\r\\nX-Storm: ")
            elif mode == "body":
                s.sendall(b"PUT /w0 HTTP/1.1\\r\\nHost: 127.0.0.1\\r\\nContent-Length: 100000\\r\\n\\r\\n" + b"storm" * 200)
            socks.append(s)
        except OSError:
            failed += 1
    if mode != "accept":
        time.sleep(0.05)
    for s in socks:
        s.close()
    print(len(socks), failed, flush=True)
`;

/** What one storm did. */
export interface StormResult {
  /** Connections opened and then reset. */
  reset: number;
  /** Connections that could not be opened. */
  failed: number;
}

/** A running helper process; one storm at a time. */
export class ResetHelper {
  readonly #child: Deno.ChildProcess;
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  readonly #lines: ReadableStreamDefaultReader<string>;
  #pending = "";

  private constructor(child: Deno.ChildProcess) {
    this.#child = child;
    this.#writer = child.stdin.getWriter();
    this.#lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  }

  /** Starts the helper; null when /usr/bin/python3 is missing (the storms are then skipped). */
  static start(): ResetHelper | null {
    try {
      Deno.statSync(PYTHON);
    } catch {
      return null;
    }
    const child = new Deno.Command(PYTHON, {
      args: ["-c", HELPER],
      stdin: "piped",
      stdout: "piped",
      stderr: "null",
    }).spawn();
    return new ResetHelper(child);
  }

  /** Opens `count` connections to `port`, then resets them all (mode: see the helper). */
  async storm(count: number, port: number, mode: "accept" | "head" | "body"): Promise<StormResult> {
    await this.#writer.write(new TextEncoder().encode(`${count} ${port} ${mode}\n`));
    while (!this.#pending.includes("\n")) {
      const { value, done } = await this.#lines.read();
      if (done) throw new Error("the reset helper exited");
      this.#pending += value;
    }
    const line = this.#pending.slice(0, this.#pending.indexOf("\n"));
    this.#pending = this.#pending.slice(line.length + 1);
    const [reset, failed] = line.split(" ").map(Number);
    return { reset, failed };
  }

  /** Ends the helper (closing its stdin) and waits for it. */
  async close(): Promise<void> {
    await this.#writer.close().catch(() => {});
    while (!(await this.#lines.read()).done);
    await this.#child.status;
  }
}
