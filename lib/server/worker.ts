/**
 * The entry of one worker of {@linkcode serveWithWorkers}: a Web Worker (its
 * own isolate and event loop) that runs a whole server on the shared port
 * (`reusePort`), and reports log lines, errors and notices to the main
 * thread, which writes them.
 *
 * @module
 */

/// <reference no-default-lib="true" />
/// <reference lib="deno.worker" />

import { formatAccessLog } from "./access_log.ts";
import type { FileServer } from "../mod.ts";
import { serve } from "../mod.ts";
import type { ToMain, ToWorker } from "./workers.ts";

let server: FileServer | null = null;

function post(message: ToMain): void {
  self.postMessage(message);
}

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

self.onmessage = async (event: MessageEvent<ToWorker>) => {
  const message = event.data;
  if (message.type === "start") {
    const { options, logFormat } = message;
    try {
      server = await serve({
        ...options,
        reusePort: true,
        onExchange: logFormat === null
          ? undefined
          : (record) => post({ type: "log", line: formatAccessLog(logFormat, record, Date.now()) }),
        onError: (error) => post({ type: "error", text: describe(error) }),
        onNotice: (text) => post({ type: "notice", text }),
      });
    } catch (error) {
      post({
        type: "failed",
        name: error instanceof Error ? error.name : "Error",
        message: error instanceof Error ? error.message : String(error),
      });
      return;
    }
    post({ type: "listening", port: server.addr.port, url: server.url, root: server.root });
    const removed = await server.staleTempsRemoved;
    post({ type: "swept", removed: removed.length });
  } else if (message.type === "shutdown") {
    await server?.shutdown();
    post({ type: "stopped" });
    self.close();
  }
};
