/**
 * Real WebDAV clients from Debian against a real `main.ts` over a temp ROOT:
 * rclone's webdav backend syncing a tree up and back down (nested
 * directories, Unicode and spaces in names, empty files and directories, a
 * 100 MiB file) and checking both ways, and cadaver, scripted, for mkcol,
 * put, get, copy, move, propset and propget. CI installs both (.ci/run).
 */

import assert from "node:assert/strict";
import * as path from "node:path";
import { startServerProcess } from "../scripts/crash_test.ts";
import { run } from "./_helpers.ts";
import { patternBytes } from "./_s3.ts";

const RCLONE = "/usr/bin/rclone";
const CADAVER = "/usr/bin/cadaver";

async function installed(binary: string): Promise<boolean> {
  const found = await Deno.stat(binary).then(() => true, () => false);
  if (!found) console.log(`${binary} cases ignored: it is missing (apt-get install it)`);
  return found;
}

const hasRclone = await installed(RCLONE);
const hasCadaver = await installed(CADAVER);

/** Runs `fn` with a `main.ts` over a fresh ROOT. */
async function withMain(fn: (url: string, root: string) => Promise<void>): Promise<void> {
  const root = await Deno.makeTempDir({ prefix: "filedrop-dav-clients-" });
  const server = await startServerProcess(root, ["--no-fsync"]);
  try {
    await fn(server.url, root);
  } finally {
    await server.stop();
    await Deno.remove(root, { recursive: true });
  }
}

/**
 * Writes the test tree: 300 small files over three levels of directories
 * with Unicode and spaces in their names, some empty, an empty directory,
 * and one file of 100 MiB. Returns the file count.
 */
async function writeTree(dir: string): Promise<number> {
  const names = ["plain", "with space", "ünïcødé", "日本語 ファイル", "emoji 🎉", "a+b=c&d"];
  let files = 0;
  for (let i = 0; i < 300; i++) {
    const levels = [names[i % 6], `level ${i % 3}`, names[(i + 1) % 6]].slice(0, i % 4);
    const directory = path.join(dir, ...levels);
    await Deno.mkdir(directory, { recursive: true });
    const body = i % 10 === 0 ? new Uint8Array() : patternBytes(1 + (i * 37) % 5000, i + 1);
    await Deno.writeFile(path.join(directory, `${names[i % 6]} ${i}.bin`), body);
    files++;
  }
  await Deno.mkdir(path.join(dir, "empty dir"));
  await Deno.writeFile(path.join(dir, "big file.bin"), patternBytes(100 * 1024 * 1024, 7));
  return files + 1;
}

/** rclone with a remote `drop:` of type webdav at `url`, and no user configuration. */
function rclone(url: string, configDir: string, args: string[]) {
  return run(RCLONE, ["--config", path.join(configDir, "rclone.conf"), ...args], {
    env: {
      RCLONE_CONFIG_DROP_TYPE: "webdav",
      RCLONE_CONFIG_DROP_URL: url,
      RCLONE_CONFIG_DROP_VENDOR: "other",
      HOME: configDir,
      PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
    },
  });
}

Deno.test({
  name: "rclone sync up and back down over WebDAV, then rclone check both ways: identical",
  ignore: !hasRclone,
  fn: async () => {
    const work = await Deno.makeTempDir({ prefix: "filedrop-rclone-" });
    try {
      const local = path.join(work, "local");
      const back = path.join(work, "back");
      const count = await writeTree(local);
      await withMain(async (url, root) => {
        const up = await rclone(url, work, ["sync", "--create-empty-src-dirs", local, "drop:up"]);
        assert.equal(up.code, 0, up.stderr);
        // Against the server (sizes), then the bytes on disk (md5, local to local: no trust in the server).
        const checkUp = await rclone(url, work, ["check", local, "drop:up"]);
        assert.equal(checkUp.code, 0, checkUp.stderr);
        assert.match(checkUp.stderr, new RegExp(`${count} matching files`));
        const onDisk = await rclone(url, work, ["check", local, path.join(root, "up")]);
        assert.equal(onDisk.code, 0, onDisk.stderr);
        assert.ok((await Deno.stat(path.join(root, "up", "empty dir"))).isDirectory);

        const down = await rclone(url, work, ["sync", "--create-empty-src-dirs", "drop:up", back]);
        assert.equal(down.code, 0, down.stderr);
        const checkDown = await rclone(url, work, ["check", "drop:up", back]);
        assert.equal(checkDown.code, 0, checkDown.stderr);
        const same = await rclone(url, work, ["check", local, back]);
        assert.equal(same.code, 0, same.stderr);
        assert.match(same.stderr, new RegExp(`${count} matching files`));
        assert.ok((await Deno.stat(path.join(back, "empty dir"))).isDirectory);

        // A second sync changes nothing; a deletion goes through.
        await Deno.remove(path.join(local, "big file.bin"));
        const again = await rclone(url, work, ["sync", local, "drop:up"]);
        assert.equal(again.code, 0, again.stderr);
        assert.equal(
          await Deno.stat(path.join(root, "up", "big file.bin")).then(() => true, () => false),
          false,
        );
      });
    } finally {
      await Deno.remove(work, { recursive: true });
    }
  },
});

Deno.test({
  name: "cadaver, scripted: mkcol, put, get, copy, move, propset, propget, delete",
  ignore: !hasCadaver,
  fn: async () => {
    const work = await Deno.makeTempDir({ prefix: "filedrop-cadaver-" });
    try {
      await Deno.writeTextFile(path.join(work, "note.txt"), "a note from cadaver\n");
      await withMain(async (url, root) => {
        const script = [
          "mkcol docs",
          "cd docs",
          "put note.txt",
          "get note.txt fetched.txt",
          "copy note.txt copy.txt",
          "move copy.txt moved.txt",
          "propset moved.txt colour blue",
          "propget moved.txt colour",
          "ls",
          "delete note.txt",
          "quit",
        ].join("\n") + "\n";
        const result = await run(CADAVER, [url], {
          stdin: new TextEncoder().encode(script),
          cwd: work,
          env: { HOME: work, PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin" },
        });
        const output = result.stdout + result.stderr;
        assert.equal(result.code, 0, output);
        assert.doesNotMatch(output, /failed|error/i, output);
        // cadaver echoes each command: these lines are its answers (8 commands report success).
        assert.match(output, /^Value of colour is: blue$/m, output);
        assert.equal(output.match(/succeeded\.$/gm)?.length, 8, output);
        assert.equal(
          await Deno.readTextFile(path.join(work, "fetched.txt")),
          "a note from cadaver\n",
        );
        assert.equal(
          await Deno.readTextFile(path.join(root, "docs", "moved.txt")),
          "a note from cadaver\n",
        );
        const left = [...Deno.readDirSync(path.join(root, "docs"))].map((entry) => entry.name);
        assert.deepEqual(left, ["moved.txt"]);
      });
    } finally {
      await Deno.remove(work, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "cadaver, scripted: lock, write while locked, discover; another session is refused until it unlocks",
  ignore: !hasCadaver,
  fn: async () => {
    const work = await Deno.makeTempDir({ prefix: "filedrop-cadaver-" });
    const cadaver = (url: string, lines: string[]) =>
      run(CADAVER, [url], {
        stdin: new TextEncoder().encode(lines.join("\n") + "\n"),
        cwd: work,
        env: { HOME: work, PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin" },
      });
    try {
      await Deno.writeTextFile(path.join(work, "first.txt"), "first\n");
      await Deno.writeTextFile(path.join(work, "second.txt"), "second\n");
      await withMain(async (url, root) => {
        await Deno.writeTextFile(path.join(root, "shared.txt"), "start\n");
        const holder = await cadaver(url, [
          "lock shared.txt",
          "put first.txt shared.txt",
          "discover shared.txt",
          "quit",
        ]);
        const held = holder.stdout + holder.stderr;
        assert.match(held, /^Locking `shared.txt': succeeded\.$/m, held);
        assert.match(held, /Uploading first.txt to `\/shared.txt': .*succeeded\.$/m, held);
        assert.match(held, /Scope: exclusive {2}Type: write/, held);
        const token = /Lock token <(urn:uuid:[0-9a-f-]+)>/.exec(held)?.[1];
        assert.ok(token, held);
        assert.equal(await Deno.readTextFile(path.join(root, "shared.txt")), "first\n");
        // A session without the token cannot write; it unlocks by giving the token when asked.
        const other = await cadaver(url, [
          "put second.txt shared.txt",
          "unlock shared.txt",
          token,
          "put second.txt shared.txt",
          "discover shared.txt",
          "quit",
        ]);
        const freed = other.stdout + other.stderr;
        assert.match(freed, /423 Locked/, freed);
        assert.match(freed, /Unlocking `shared.txt':Enter locktoken: \S+\n succeeded\.$/m, freed);
        assert.match(freed, /no locks found/, freed);
        assert.equal(await Deno.readTextFile(path.join(root, "shared.txt")), "second\n");
      });
    } finally {
      await Deno.remove(work, { recursive: true });
    }
  },
});
