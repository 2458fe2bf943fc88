/**
 * Where an `s3://bucket/prefix` root lives and how to sign for it: the
 * endpoint, region, addressing style and credentials, from the places every
 * S3 tool reads them (explicit options, `AWS_*` environment variables when
 * the process may read them, then the shared `~/.aws/credentials` and
 * `~/.aws/config` files). Nothing here ever puts a secret in an error.
 *
 * @module
 */

import * as os from "node:os";

/** Static credentials for SigV4. */
export interface S3Credentials {
  /** The access key id. */
  accessKeyId: string;
  /** The secret access key: never logged, never in an error. */
  secretAccessKey: string;
  /** A session token (temporary credentials), if any. */
  sessionToken?: string;
}

/** What a caller of `serve()` may set; everything else comes from the environment and profiles. */
export interface S3Options {
  /** The endpoint URL (`https://s3.example.com`); default from the environment, else AWS. */
  endpoint?: string;
  /** Path-style URLs (`endpoint/bucket/key`); default on for a custom endpoint, off for AWS. */
  pathStyle?: boolean;
  /** The profile of the shared config files; default `AWS_PROFILE`, else "default". */
  profile?: string;
  /** The signing region; default `AWS_REGION`, `AWS_DEFAULT_REGION`, the profile's, else us-east-1. */
  region?: string;
  /** Credentials to use instead of looking them up. */
  credentials?: S3Credentials;
}

/** An `s3://` root, parsed. */
export interface S3Location {
  /** The bucket name. */
  bucket: string;
  /** The key prefix everything is stored under: "" or ending with "/". */
  prefix: string;
}

/** Everything the S3 client needs. */
export interface S3Config extends S3Location {
  /** The endpoint's origin and path, without a trailing slash (`http://127.0.0.1:7480`). */
  endpoint: string;
  /** The signing region. */
  region: string;
  /** Path-style (true) or virtual-hosted-style (false) addressing. */
  pathStyle: boolean;
  /** The credentials. */
  credentials: S3Credentials;
  /** Where the credentials came from ("environment", "profile default in ~/.aws/credentials"...), for the start-up lines. */
  credentialSource: string;
}

/** Thrown for an unusable S3 root or configuration; the message is safe to show. */
export class S3ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "S3ConfigError";
  }
}

/** Whether `root` names an object-store location rather than a directory. */
export function isS3Root(root: string): boolean {
  return /^s3:\/\//i.test(root);
}

/** Bucket names as S3-compatible stores accept them (AWS's rules are stricter; the store has the last word). */
const BUCKET_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{1,254}$/;

/**
 * Parses `s3://bucket[/prefix]`. The prefix is split on "/" (empty segments
 * dropped) and always ends with "/" when not empty, so `s3://b/p`,
 * `s3://b/p/` and `s3://b//p` are the same root.
 *
 * @example
 * ```ts
 * parseS3Root("s3://drop/team/files"); // { bucket: "drop", prefix: "team/files/" }
 * ```
 */
export function parseS3Root(root: string): S3Location {
  if (!isS3Root(root)) throw new S3ConfigError(`not an s3:// root: ${JSON.stringify(root)}`);
  const rest = root.slice("s3://".length);
  const slash = rest.indexOf("/");
  const bucket = slash === -1 ? rest : rest.slice(0, slash);
  if (!BUCKET_NAME.test(bucket)) {
    throw new S3ConfigError(`invalid bucket name in ${JSON.stringify(root)}`);
  }
  const segments = slash === -1 ? [] : rest.slice(slash + 1).split("/").filter((s) => s !== "");
  for (const segment of segments) {
    // deno-lint-ignore no-control-regex -- refusing control characters is the point.
    if (segment === "." || segment === ".." || /[\u0000-\u001f\u007f]/.test(segment)) {
      throw new S3ConfigError(`invalid prefix in ${JSON.stringify(root)}`);
    }
  }
  return { bucket, prefix: segments.length === 0 ? "" : `${segments.join("/")}/` };
}

/** `s3://bucket/prefix/`: how a root is shown. */
export function describeS3Location(location: S3Location): string {
  return `s3://${location.bucket}/${location.prefix}`;
}

/** An INI file as the AWS tools read it: sections of `key = value`, nested `key =` blocks as `key.sub`. */
export type IniFile = Map<string, Map<string, string>>;

/**
 * Parses the AWS shared config/credentials format: `[section]` headers,
 * `key = value` lines, `#` and `;` comment lines, and indented sub-keys
 * under a key with an empty value (`s3 =` then `  addressing_style = path`),
 * stored as `s3.addressing_style`. Keys are lower-cased; values trimmed.
 */
export function parseIni(text: string): IniFile {
  const sections: IniFile = new Map();
  let current: Map<string, string> | null = null;
  let parent: string | null = null;
  for (const rawLine of text.split(/\r?\n/)) {
    const trimmed = rawLine.trim();
    if (trimmed === "" || trimmed.startsWith("#") || trimmed.startsWith(";")) continue;
    const section = /^\[\s*([^\]]*?)\s*\]$/.exec(trimmed);
    if (section !== null) {
      current = sections.get(section[1]) ?? new Map();
      sections.set(section[1], current);
      parent = null;
      continue;
    }
    const equals = trimmed.indexOf("=");
    if (current === null || equals === -1) continue;
    const key = trimmed.slice(0, equals).trim().toLowerCase();
    const value = trimmed.slice(equals + 1).trim();
    const indented = /^\s/.test(rawLine);
    if (indented && parent !== null) {
      current.set(`${parent}.${key}`, value);
      continue;
    }
    current.set(key, value);
    parent = value === "" ? key : null;
  }
  return sections;
}

/** Where configuration is read from: the environment and files, or anything a test provides. */
export interface ConfigSources {
  /** An environment variable, or undefined when unset or not readable. */
  env(name: string): string | undefined;
  /** The user's home directory, or null when unknown. */
  home(): string | null;
  /** A file's text, or null when it is missing or may not be read. */
  readFile(path: string): Promise<string | null>;
}

/** Whether this process may do something without a prompt (`querySync` never prompts). */
function granted(descriptor: Deno.PermissionDescriptor): boolean {
  try {
    return Deno.permissions.querySync(descriptor).state === "granted";
  } catch {
    return false;
  }
}

/**
 * The real environment, read only where permitted: each variable checked
 * with `Deno.permissions.querySync` (so `--allow-env=AWS_REGION,...` works
 * and nothing prompts), files only with read permission.
 */
export function defaultConfigSources(): ConfigSources {
  const env = (name: string) =>
    granted({ name: "env", variable: name }) ? Deno.env.get(name) : undefined;
  return {
    env,
    home() {
      const home = env("HOME") ?? env("USERPROFILE");
      if (home !== undefined && home !== "") return home;
      if (!granted({ name: "sys", kind: "homedir" })) return null;
      try {
        return os.homedir() || null;
      } catch {
        return null;
      }
    },
    async readFile(path: string) {
      if (!granted({ name: "read", path })) return null;
      try {
        return await Deno.readTextFile(path);
      } catch {
        return null;
      }
    },
  };
}

/** The default AWS endpoint of a region. */
function awsEndpoint(region: string): string {
  return region.startsWith("cn-")
    ? `https://s3.${region}.amazonaws.com.cn`
    : `https://s3.${region}.amazonaws.com`;
}

/** Checks and normalizes an endpoint URL; the message never repeats a URL that holds a password. */
function normalizeEndpoint(text: string, origin: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new S3ConfigError(`the S3 endpoint from ${origin} is not a URL`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new S3ConfigError(`the S3 endpoint from ${origin} must be an http:// or https:// URL`);
  }
  if (url.username !== "" || url.password !== "") {
    throw new S3ConfigError(
      `the S3 endpoint from ${origin} must not hold credentials (use AWS_ACCESS_KEY_ID/...)`,
    );
  }
  if (url.search !== "" || url.hash !== "") {
    throw new S3ConfigError(`the S3 endpoint from ${origin} must not have a query or fragment`);
  }
  return `${url.origin}${url.pathname.replace(/\/+$/, "")}`;
}

function credentialsFrom(
  section: Map<string, string> | undefined,
): S3Credentials | null {
  const accessKeyId = section?.get("aws_access_key_id");
  const secretAccessKey = section?.get("aws_secret_access_key");
  if (!accessKeyId || !secretAccessKey) return null;
  const sessionToken = section?.get("aws_session_token") || undefined;
  return { accessKeyId, secretAccessKey, ...(sessionToken ? { sessionToken } : {}) };
}

/**
 * Resolves the full configuration of an `s3://` root. Precedence, as the
 * AWS CLI has it: explicit options; then `AWS_ACCESS_KEY_ID` and
 * `AWS_SECRET_ACCESS_KEY` (+ `AWS_SESSION_TOKEN`) unless a profile was
 * chosen by option; then the profile (option, `AWS_PROFILE`, else
 * "default") in `~/.aws/credentials` (or `AWS_SHARED_CREDENTIALS_FILE`) and
 * `~/.aws/config` (or `AWS_CONFIG_FILE`, section `[profile NAME]` or
 * `[default]`). The endpoint: option, `AWS_ENDPOINT_URL_S3`,
 * `AWS_ENDPOINT_URL`, the profile's `endpoint_url` (or `s3.endpoint_url`),
 * else AWS's for the region. Throws {@linkcode S3ConfigError}.
 */
export async function resolveS3Config(
  root: string,
  options: S3Options = {},
  sources: ConfigSources = defaultConfigSources(),
): Promise<S3Config> {
  const location = parseS3Root(root);
  const env = (name: string) => {
    const value = sources.env(name);
    return value === undefined || value === "" ? undefined : value;
  };
  const profile = options.profile ?? env("AWS_PROFILE") ?? "default";
  const home = sources.home();
  const credentialsPath = env("AWS_SHARED_CREDENTIALS_FILE") ??
    (home === null ? null : `${home}/.aws/credentials`);
  const configPath = env("AWS_CONFIG_FILE") ?? (home === null ? null : `${home}/.aws/config`);
  const credentialsText = credentialsPath === null ? null : await sources.readFile(credentialsPath);
  const configText = configPath === null ? null : await sources.readFile(configPath);
  const credentialsFile = credentialsText === null ? new Map() : parseIni(credentialsText);
  const configFile = configText === null ? new Map() : parseIni(configText);
  const profileConfig: Map<string, string> | undefined = configFile.get(
    profile === "default" ? "default" : `profile ${profile}`,
  ) ?? (profile === "default" ? configFile.get("profile default") : undefined);

  let credentials: S3Credentials | null = options.credentials ?? null;
  let credentialSource = "options";
  if (credentials === null && options.profile === undefined) {
    const accessKeyId = env("AWS_ACCESS_KEY_ID");
    const secretAccessKey = env("AWS_SECRET_ACCESS_KEY");
    if (accessKeyId !== undefined && secretAccessKey !== undefined) {
      const sessionToken = env("AWS_SESSION_TOKEN");
      credentials = { accessKeyId, secretAccessKey, ...(sessionToken ? { sessionToken } : {}) };
      credentialSource = "environment (AWS_ACCESS_KEY_ID)";
    }
  }
  if (credentials === null) {
    credentials = credentialsFrom(credentialsFile.get(profile));
    credentialSource = `profile ${profile} in ${credentialsPath}`;
  }
  if (credentials === null) {
    credentials = credentialsFrom(profileConfig);
    credentialSource = `profile ${profile} in ${configPath}`;
  }
  if (credentials === null) {
    const profileKnown = credentialsFile.has(profile) || profileConfig !== undefined;
    throw new S3ConfigError(
      profileKnown
        ? `profile ${JSON.stringify(profile)} has no aws_access_key_id/aws_secret_access_key ` +
          "(only static keys are supported: no SSO, no credential_process, no instance roles)"
        : "no S3 credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (with --allow-env), " +
          `or put them in ~/.aws/credentials under [${profile}] (with --allow-read for it)`,
    );
  }

  const region = options.region ?? env("AWS_REGION") ?? env("AWS_DEFAULT_REGION") ??
    profileConfig?.get("region") ?? "us-east-1";
  let endpoint: string;
  let custom = true;
  if (options.endpoint !== undefined) {
    endpoint = normalizeEndpoint(options.endpoint, "--s3-endpoint");
  } else if (env("AWS_ENDPOINT_URL_S3") !== undefined) {
    endpoint = normalizeEndpoint(env("AWS_ENDPOINT_URL_S3")!, "AWS_ENDPOINT_URL_S3");
  } else if (env("AWS_ENDPOINT_URL") !== undefined) {
    endpoint = normalizeEndpoint(env("AWS_ENDPOINT_URL")!, "AWS_ENDPOINT_URL");
  } else if (profileConfig?.get("s3.endpoint_url") || profileConfig?.get("endpoint_url")) {
    const value = profileConfig.get("s3.endpoint_url") || profileConfig.get("endpoint_url")!;
    endpoint = normalizeEndpoint(value, `profile ${profile}`);
  } else {
    endpoint = awsEndpoint(region);
    custom = false;
  }
  const addressing = profileConfig?.get("s3.addressing_style");
  const pathStyle = options.pathStyle ??
    (addressing === "path" ? true : addressing === "virtual" ? false : custom);
  // Virtual-hosted style puts the bucket in a host name: it must be a valid DNS label.
  if (!pathStyle && !/^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/.test(location.bucket)) {
    throw new S3ConfigError(
      `bucket ${JSON.stringify(location.bucket)} cannot be addressed virtual-hosted style: ` +
        "use --s3-path-style",
    );
  }
  return { ...location, endpoint, region, pathStyle, credentials, credentialSource };
}
