/**
 * Tests of the S3 configuration (lib/storage/s3_config.ts), the XML reader
 * and the URL encoding of keys: no gateway needed.
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  isS3Root,
  parseIni,
  parseS3Root,
  resolveS3Config,
  S3ConfigError,
} from "../lib/storage/s3_config.ts";
import type { ConfigSources } from "../lib/storage/s3_config.ts";
import { encodeKey, S3Client } from "../lib/storage/s3_client.ts";
import { decodeXmlText, xmlElements, xmlText } from "../lib/storage/s3_xml.ts";
import { HELP, parseCommandLine, UsageError } from "../lib/cli.ts";

function sources(env: Record<string, string>, files: Record<string, string> = {}): ConfigSources {
  return {
    env: (name) => env[name],
    home: () => "/home/me",
    readFile: (path) => Promise.resolve(files[path] ?? null),
  };
}

const KEYS = { AWS_ACCESS_KEY_ID: "AKENV", AWS_SECRET_ACCESS_KEY: "env-secret" };

Deno.test("s3 root: bucket and prefix, normalized; bad ones refused", () => {
  assert.equal(isS3Root("s3://b"), true);
  assert.equal(isS3Root("./s3:/x"), false);
  assert.deepEqual(parseS3Root("s3://drop"), { bucket: "drop", prefix: "" });
  assert.deepEqual(parseS3Root("s3://drop/"), { bucket: "drop", prefix: "" });
  assert.deepEqual(parseS3Root("s3://drop/a/b"), { bucket: "drop", prefix: "a/b/" });
  assert.deepEqual(parseS3Root("s3://drop//a///b/"), { bucket: "drop", prefix: "a/b/" });
  for (const bad of ["s3://", "s3://x", "s3://a b/c", "s3://drop/../x", "s3://drop/a/./b"]) {
    assert.throws(() => parseS3Root(bad), S3ConfigError, bad);
  }
});

Deno.test("ini: sections, comments, nested keys", () => {
  const ini = parseIni(
    "# comment\n[default]\naws_access_key_id = AK\n; another\n" +
      "[profile dev]\nregion=eu-west-1\ns3 =\n  addressing_style = path\n  endpoint_url = http://x:1\n" +
      "output = json\n",
  );
  assert.equal(ini.get("default")?.get("aws_access_key_id"), "AK");
  assert.equal(ini.get("profile dev")?.get("region"), "eu-west-1");
  assert.equal(ini.get("profile dev")?.get("s3.addressing_style"), "path");
  assert.equal(ini.get("profile dev")?.get("s3.endpoint_url"), "http://x:1");
  assert.equal(ini.get("profile dev")?.get("output"), "json", "a top-level key ends the block");
});

Deno.test("s3 config: environment keys, endpoint and region; path style for a custom endpoint", async () => {
  const config = await resolveS3Config(
    "s3://bucket/p",
    {},
    sources({ ...KEYS, AWS_ENDPOINT_URL_S3: "http://127.0.0.1:7480/", AWS_REGION: "eu-west-9" }),
  );
  assert.equal(config.endpoint, "http://127.0.0.1:7480");
  assert.equal(config.region, "eu-west-9");
  assert.equal(config.pathStyle, true);
  assert.equal(config.prefix, "p/");
  assert.deepEqual(config.credentials, { accessKeyId: "AKENV", secretAccessKey: "env-secret" });

  const aws = await resolveS3Config("s3://bucket", {}, sources(KEYS));
  assert.equal(aws.endpoint, "https://s3.us-east-1.amazonaws.com");
  assert.equal(aws.pathStyle, false, "AWS: virtual-hosted style");
  const general = await resolveS3Config(
    "s3://bucket",
    { pathStyle: false },
    sources({ ...KEYS, AWS_ENDPOINT_URL: "https://minio.example:9000" }),
  );
  assert.equal(general.endpoint, "https://minio.example:9000");
  assert.equal(general.pathStyle, false, "the option wins");
  const flag = await resolveS3Config(
    "s3://bucket",
    { endpoint: "http://flag:1" },
    sources({ ...KEYS, AWS_ENDPOINT_URL_S3: "http://env:1" }),
  );
  assert.equal(flag.endpoint, "http://flag:1", "--s3-endpoint wins over the environment");
});

Deno.test("s3 config: profiles from the shared files; an explicit profile wins over environment keys", async () => {
  const files = {
    "/home/me/.aws/credentials":
      "[default]\naws_access_key_id = AKDEF\naws_secret_access_key = def\n" +
      "[dev]\naws_access_key_id = AKDEV\naws_secret_access_key = dev\naws_session_token = tok\n",
    "/home/me/.aws/config": "[profile dev]\nregion = ap-south-1\nendpoint_url = http://dev:9000\n" +
      "[profile cfg]\naws_access_key_id = AKCFG\naws_secret_access_key = cfg\n",
  };
  const fromDefault = await resolveS3Config("s3://bucket", {}, sources({}, files));
  assert.equal(fromDefault.credentials.accessKeyId, "AKDEF");
  const dev = await resolveS3Config("s3://bucket", { profile: "dev" }, sources(KEYS, files));
  assert.deepEqual(dev.credentials, {
    accessKeyId: "AKDEV",
    secretAccessKey: "dev",
    sessionToken: "tok",
  });
  assert.equal(dev.region, "ap-south-1");
  assert.equal(dev.endpoint, "http://dev:9000");
  assert.equal(dev.pathStyle, true);
  const byEnv = await resolveS3Config("s3://bucket", {}, sources({ AWS_PROFILE: "cfg" }, files));
  assert.equal(byEnv.credentials.accessKeyId, "AKCFG", "keys in the config file count too");
  const keysWin = await resolveS3Config(
    "s3://bucket",
    {},
    sources({ ...KEYS, AWS_PROFILE: "dev" }, files),
  );
  assert.equal(
    keysWin.credentials.accessKeyId,
    "AKENV",
    "AWS_PROFILE does not beat environment keys",
  );
  const custom = await resolveS3Config(
    "s3://bucket",
    {},
    sources({ AWS_SHARED_CREDENTIALS_FILE: "/etc/creds" }, {
      "/etc/creds": "[default]\naws_access_key_id = AKETC\naws_secret_access_key = etc\n",
    }),
  );
  assert.equal(custom.credentials.accessKeyId, "AKETC");
});

Deno.test("s3 config: errors say what to do and never hold a secret", async () => {
  await assert.rejects(resolveS3Config("s3://bucket", {}, sources({})), /no S3 credentials/);
  await assert.rejects(
    resolveS3Config(
      "s3://bucket",
      { profile: "sso" },
      sources({}, {
        "/home/me/.aws/config": "[profile sso]\nsso_start_url = https://x\n",
      }),
    ),
    /only static keys/,
  );
  const secret = "p4ssw0rd-in-url";
  await assert.rejects(
    resolveS3Config("s3://bucket", { endpoint: `http://user:${secret}@host` }, sources(KEYS)),
    (error: Error) => error instanceof S3ConfigError && !error.message.includes(secret),
  );
  await assert.rejects(
    resolveS3Config("s3://bucket", { endpoint: "ftp://host" }, sources(KEYS)),
    /http/,
  );
  await assert.rejects(
    resolveS3Config("s3://my.bucket", {}, sources(KEYS)),
    /path-style/,
    "dots in a virtual-hosted bucket name",
  );
});

Deno.test("s3 urls: keys encoded per segment, path and virtual-hosted style, query encoded", () => {
  assert.equal(encodeKey("a b/c+d/e&f/ü!*'()~"), "a%20b/c%2Bd/e%26f/%C3%BC%21%2A%27%28%29~");
  const base = {
    bucket: "bkt",
    prefix: "",
    region: "us-east-1",
    credentials: { accessKeyId: "a", secretAccessKey: "b" },
    credentialSource: "test",
  };
  const path = new S3Client({ ...base, endpoint: "http://h:1", pathStyle: true });
  assert.equal(path.url("x/y z"), "http://h:1/bkt/x/y%20z");
  assert.equal(
    path.url("", [["list-type", "2"], ["prefix", "a b/"]]),
    "http://h:1/bkt?list-type=2&prefix=a%20b%2F",
  );
  assert.equal(path.url("k", [["uploads", ""]]), "http://h:1/bkt/k?uploads");
  const virtual = new S3Client({ ...base, endpoint: "https://s3.example.com", pathStyle: false });
  assert.equal(virtual.url("x"), "https://bkt.s3.example.com/x");
  assert.equal(virtual.url("", [["list-type", "2"]]), "https://bkt.s3.example.com/?list-type=2");
});

Deno.test("s3 xml: elements, entities, empty elements", () => {
  const xml = "<R><Contents><Key>e&amp;&lt;f&gt; &#233;&#x2713;</Key><KeyCount>1</KeyCount>" +
    "<ETag>&quot;abc&quot;</ETag></Contents><Contents><Key/></Contents></R>";
  const blocks = xmlElements(xml, "Contents");
  assert.equal(blocks.length, 2);
  assert.equal(xmlText(blocks[0], "Key"), "e&<f> é✓");
  assert.equal(xmlText(blocks[0], "ETag"), '"abc"');
  assert.equal(xmlText(blocks[1], "Key"), "");
  assert.equal(xmlText(xml, "Missing"), undefined);
  assert.equal(decodeXmlText("&unknown; &#xZZ;"), "&unknown; &#xZZ;");
});

Deno.test("command line: --s3-endpoint, --s3-path-style and --s3-profile go with an s3:// ROOT only", () => {
  const command = parseCommandLine([
    "--s3-endpoint",
    "http://127.0.0.1:7480",
    "--s3-path-style",
    "--s3-profile",
    "ceph",
    "s3://drop/team",
  ]);
  assert.equal(command.kind, "serve");
  if (command.kind !== "serve") return;
  assert.equal(command.options.root, "s3://drop/team");
  assert.deepEqual(command.options.s3, {
    endpoint: "http://127.0.0.1:7480",
    pathStyle: true,
    profile: "ceph",
  });
  const plain = parseCommandLine(["s3://drop"]);
  assert.equal(
    plain.kind === "serve" && plain.options.s3,
    undefined,
    "nothing set: the environment decides",
  );
  assert.throws(() => parseCommandLine(["--s3-profile", "x", "./dir"]), UsageError);
  for (const flag of ["--s3-endpoint", "--s3-path-style", "--s3-profile", "s3://"]) {
    assert.ok(HELP.includes(flag), flag);
  }
});
