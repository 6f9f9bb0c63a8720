import type * as NodeCrypto from "node:crypto";
import { readFileSync, statSync } from "node:fs";
import type { CallAuth, CallHeader } from "@funker/protocol";
import { callSigningInput } from "@funker/protocol/internal";

/**
 * `node:crypto`, loaded when a key is first used: importing it costs a Node
 * start about 10 ms of CPU (a dozen internal modules), which every
 * single-shot and fresh process would pay though most run without keys.
 */
let cryptoModule: typeof NodeCrypto | undefined;
function crypto(): typeof NodeCrypto {
  return (cryptoModule ??= process.getBuiltinModule("node:crypto"));
}

/**
 * Shared keys for signed calls (PROTOCOL.md section 6.8), as the handler
 * and the client both read them. A key text holds one key per line; blank
 * lines and lines starting with "#" are skipped, and each line is trimmed.
 * The first key signs; every key verifies, so that a rotation adds the new
 * key as a second line everywhere, then moves it first, then drops the old.
 */
export interface SharedKey {
  /** Derived from the key (see `keyIdOf`): both sides name a key alike without configuring a name. */
  readonly id: string;
  readonly secret: Buffer;
}

/**
 * 16 characters: a key shorter than that is a password, and a MAC over
 * known bytes lets whoever captures one call test guesses offline.
 */
export const MIN_KEY_LENGTH = 16;

/** Raised for a key text or key file that cannot be used; its message never holds a key. */
export class SharedKeyError extends TypeError {
  override readonly name = "SharedKeyError";
}

/**
 * A key's id: 16 hex digits of a SHA-256 of the key under a fixed prefix.
 * It reveals nothing a captured MAC does not already let an attacker test.
 */
export function keyIdOf(secret: Uint8Array): string {
  return `k${crypto().createHash("sha256").update("funker key id\u0000").update(secret).digest("hex").slice(0, 16)}`;
}

/** The keys in a key text; `origin` names where it came from, for messages. */
export function parseKeys(text: string, origin: string): SharedKey[] {
  const keys: SharedKey[] = [];
  const seen = new Set<string>();
  const lines = text.split("\n");
  for (const [index, rawLine] of lines.entries()) {
    const line = rawLine.trim();
    if (line.length === 0 || line.startsWith("#")) continue;
    if (line.length < MIN_KEY_LENGTH) {
      throw new SharedKeyError(
        `${origin}: the key on line ${index + 1} has ${line.length} characters; a key needs at least ${MIN_KEY_LENGTH} (make one with: openssl rand -base64 32)`,
      );
    }
    const secret = Buffer.from(line, "utf8");
    const id = keyIdOf(secret);
    if (seen.has(id)) continue;
    seen.add(id);
    keys.push({ id, secret });
  }
  if (keys.length === 0) throw new SharedKeyError(`${origin} holds no key (one key per line; lines starting with "#" are comments)`);
  return keys;
}

/** Where a process's keys come from: a text given in code or in `FUNKER_SECRET`, or a file. */
export type KeySource = { readonly kind: "text"; readonly text: string; readonly origin: string } | { readonly kind: "file"; readonly path: string; readonly origin: string };

/**
 * A key file is looked at again at most this often: a rotation written to
 * the file (by hand, or by `funker dev` on a change) is picked up within a
 * second, and a busy replica spends one `stat` a second on it.
 */
const KEY_FILE_CHECK_MS = 1_000;

/**
 * The keys of one source. A file's keys are read once when the ring is made
 * (a missing or empty file fails there, at start-up) and again when its
 * modification time or size changes; a file that turns unreadable later
 * keeps the keys last read, since failing every call on a passing glitch
 * would be worse than honouring keys that were valid a moment ago.
 */
export class KeyRing {
  private keys: readonly SharedKey[];
  private byId: ReadonlyMap<string, SharedKey>;
  private fileStamp = "";
  private checkedAt = 0;

  constructor(private readonly source: KeySource) {
    this.keys = [];
    this.byId = new Map();
    if (source.kind === "text") {
      this.use(parseKeys(source.text, source.origin));
      return;
    }
    const read = this.readFile();
    if (read instanceof Error) throw read;
  }

  /** What the keys came from, for messages: a variable's name or a file's path, never a key. */
  get origin(): string {
    return this.source.origin;
  }

  /** The key that signs: the first of the source. */
  signingKey(now = Date.now()): SharedKey {
    this.refresh(now);
    return this.keys[0] as SharedKey;
  }

  /** The key with this id, if the source holds it. */
  find(keyId: string, now = Date.now()): SharedKey | undefined {
    this.refresh(now);
    return this.byId.get(keyId);
  }

  private refresh(now: number): void {
    if (this.source.kind === "text" || now - this.checkedAt < KEY_FILE_CHECK_MS) return;
    this.readFile(now);
  }

  private readFile(now = Date.now()): SharedKeyError | undefined {
    if (this.source.kind !== "file") return undefined;
    this.checkedAt = now;
    const { path, origin } = this.source;
    try {
      const stat = statSync(path);
      const stamp = `${stat.mtimeMs}:${stat.size}:${stat.ino}`;
      if (stamp === this.fileStamp) return undefined;
      this.use(parseKeys(readFileSync(path, "utf8"), origin));
      this.fileStamp = stamp;
      return undefined;
    } catch (error) {
      if (error instanceof SharedKeyError) return error;
      const code = (error as NodeJS.ErrnoException).code;
      const reason = code === "ENOENT" ? "there is no such file" : code === "EACCES" ? "permission denied" : (error as Error).message;
      return new SharedKeyError(`${origin}: the key file cannot be read: ${reason}`, { cause: error });
    }
  }

  private use(keys: readonly SharedKey[]): void {
    this.keys = keys;
    this.byId = new Map(keys.map((key) => [key.id, key]));
  }
}

/** The SHA-256 of the arguments' bytes: computed once per call, then signed per attempt. */
export function digestArguments(body: Uint8Array): Buffer {
  // The one-shot hash: about a microsecond less than a Hash object per call.
  return crypto().hash("sha256", body, "buffer");
}

/** The MAC of a call under a key (PROTOCOL.md section 6.8). */
export function callMac(
  key: SharedKey,
  header: Pick<CallHeader, "id" | "function" | "deadline">,
  timestamp: number,
  argumentsDigest: Uint8Array,
): Buffer {
  return crypto().createHmac("sha256", key.secret).update(callSigningInput(header, { keyId: key.id, timestamp }, argumentsDigest)).digest();
}

/** Signs a call now, with the ring's signing key. */
export function signCall(ring: KeyRing, header: Pick<CallHeader, "id" | "function" | "deadline">, argumentsDigest: Uint8Array, now = Date.now()): CallAuth {
  const key = ring.signingKey(now);
  return { keyId: key.id, timestamp: now, mac: callMac(key, header, now, argumentsDigest) };
}

/** Whether `mac` is the call's MAC under `key`, compared in constant time. */
export function macMatches(
  key: SharedKey,
  header: Pick<CallHeader, "id" | "function" | "deadline">,
  auth: CallAuth,
  argumentsDigest: Uint8Array,
): boolean {
  const expected = callMac(key, header, auth.timestamp, argumentsDigest);
  return auth.mac.length === expected.length && crypto().timingSafeEqual(auth.mac, expected);
}

/** The variables that configure keys: one place, so that the handler, the client and the CLI agree. */
export const KEY_VARIABLES = {
  /** A key file (one key per line): a Docker secret under /run/secrets, as `funker deploy` mounts it. */
  file: "FUNKER_SECRET_FILE",
  /** Keys as text, for where a file is awkward; a file is better, since variables show in `docker inspect`. */
  text: "FUNKER_SECRET",
  /** Per function key files, `name=path;name=path`: a function with its own key, and the callers that call it. */
  files: "FUNKER_SECRET_FILES",
} as const;

/** Keys configured in code (handler and client options). */
export interface KeyOptions {
  readonly secret?: string | undefined;
  readonly secretFile?: string | undefined;
  readonly secretFiles?: Readonly<Record<string, string>> | undefined;
}

/** Parses `FUNKER_SECRET_FILES`: `name=path` entries separated by `;`. */
export function parseKeyFiles(text: string): Record<string, string> {
  const files: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const entry of text.split(";")) {
    const trimmed = entry.trim();
    if (trimmed.length === 0) continue;
    const equals = trimmed.indexOf("=");
    if (equals <= 0 || equals === trimmed.length - 1) {
      throw new SharedKeyError(`${KEY_VARIABLES.files}: "${trimmed}" is not name=path (entries are separated by ";")`);
    }
    files[trimmed.slice(0, equals).trim()] = trimmed.slice(equals + 1).trim();
  }
  return files;
}

/** `FUNKER_SECRET_FILES`'s value for key files by function name: what `parseKeyFiles` reads back. */
export function formatKeyFiles(files: Readonly<Record<string, string>>): string {
  for (const [name, path] of Object.entries(files)) {
    if (/[;=]/.test(name) || path.includes(";") || path.trim() !== path || name.length === 0 || path.length === 0) {
      throw new SharedKeyError(`${KEY_VARIABLES.files}: the key file of "${name}" cannot be written as name=path`);
    }
  }
  return Object.entries(files)
    .map(([name, path]) => `${name}=${path}`)
    .join(";");
}

/**
 * The source of the keys for calls to (or, in a handler, of) the function
 * `name`: a key file named for that function, else the process's key file,
 * else its key text. Code's options win over the environment; undefined
 * means unsigned calls.
 */
export function keySourceFor(name: string | undefined, options: KeyOptions, env: Readonly<Record<string, string | undefined>>): KeySource | undefined {
  const optionFile = fileFor(name, options.secretFiles);
  if (optionFile !== undefined) return { kind: "file", path: optionFile, origin: `the key file of "${name}" (${optionFile})` };
  if (options.secretFile !== undefined) return { kind: "file", path: options.secretFile, origin: `the key file ${options.secretFile}` };
  if (options.secret !== undefined) return { kind: "text", text: options.secret, origin: "the secret option" };
  const filesText = nonEmpty(env[KEY_VARIABLES.files]);
  const envFile = fileFor(name, filesText === undefined ? undefined : parseKeyFiles(filesText));
  if (envFile !== undefined) return { kind: "file", path: envFile, origin: `${KEY_VARIABLES.files}'s key file of "${name}" (${envFile})` };
  const file = nonEmpty(env[KEY_VARIABLES.file]);
  if (file !== undefined) return { kind: "file", path: file, origin: `${KEY_VARIABLES.file} (${file})` };
  const text = nonEmpty(env[KEY_VARIABLES.text]);
  if (text !== undefined) return { kind: "text", text, origin: KEY_VARIABLES.text };
  return undefined;
}

function fileFor(name: string | undefined, files: Readonly<Record<string, string>> | undefined): string | undefined {
  return name === undefined || files === undefined || !Object.hasOwn(files, name) ? undefined : files[name];
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim().length === 0 ? undefined : value;
}
