import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { KeyRing, SharedKeyError, digestArguments, formatKeyFiles, keyIdOf, keySourceFor, macMatches, parseKeyFiles, parseKeys, signCall } from "./keys.js";

const KEY = "0123456789abcdef-first";
const SECOND = "0123456789abcdef-second";
const folder = mkdtempSync(join(tmpdir(), "funker-keys-"));
afterAll(() => rmSync(folder, { recursive: true, force: true }));

describe("key texts", () => {
  it("takes one key per line, trimmed, skipping blank lines, comments and repeats", () => {
    const keys = parseKeys(`# rotation: new first\n  ${SECOND}  \r\n\n${KEY}\n${SECOND}\n`, "test");
    expect(keys.map((key) => key.secret.toString())).toEqual([SECOND, KEY]);
    expect(keys[0]?.id).toBe(keyIdOf(Buffer.from(SECOND)));
  });

  it("derives the same short id from the same key on every side, and different ids for different keys", () => {
    expect(keyIdOf(Buffer.from(KEY))).toMatch(/^k[0-9a-f]{16}$/);
    expect(keyIdOf(Buffer.from(KEY))).toBe(keyIdOf(Buffer.from(KEY)));
    expect(keyIdOf(Buffer.from(KEY))).not.toBe(keyIdOf(Buffer.from(SECOND)));
  });

  it("refuses an empty text and a short key, naming the line but never the key", () => {
    expect(() => parseKeys("# nothing\n\n", "the file x")).toThrow(new SharedKeyError('the file x holds no key (one key per line; lines starting with "#" are comments)'));
    const error = (() => {
      try {
        parseKeys(`${KEY}\nshort-secret\n`, "the file x");
      } catch (thrown) {
        return thrown as Error;
      }
      return undefined;
    })();
    expect(error?.message).toBe("the file x: the key on line 2 has 12 characters; a key needs at least 16 (make one with: openssl rand -base64 32)");
  });
});

describe("MACs", () => {
  const ring = new KeyRing({ kind: "text", text: `${KEY}\n${SECOND}`, origin: "test" });
  const header = { id: "c1", function: "add", deadline: 1_800_000_000_000 };
  const digest = digestArguments(Buffer.from('{"x":1,"y":2}'));

  it("signs with the first key, and the MAC matches under that key only", () => {
    const auth = signCall(ring, header, digest, 1_799_999_990_000);
    const [first, second] = parseKeys(`${KEY}\n${SECOND}`, "test");
    expect(auth.keyId).toBe(first?.id);
    expect(macMatches(first!, header, auth, digest)).toBe(true);
    expect(macMatches(second!, header, auth, digest)).toBe(false);
  });

  it("does not match once any signed field changes", () => {
    const auth = signCall(ring, header, digest, 1_799_999_990_000);
    const key = ring.find(auth.keyId)!;
    expect(macMatches(key, { ...header, id: "c2" }, auth, digest)).toBe(false);
    expect(macMatches(key, { ...header, function: "sub" }, auth, digest)).toBe(false);
    expect(macMatches(key, { ...header, deadline: header.deadline + 1 }, auth, digest)).toBe(false);
    expect(macMatches(key, header, { ...auth, timestamp: auth.timestamp + 1 }, digest)).toBe(false);
    expect(macMatches(key, header, auth, digestArguments(Buffer.from('{"x":1,"y":3}')))).toBe(false);
    expect(macMatches(key, header, { ...auth, mac: auth.mac.subarray(0, 31) }, digest)).toBe(false);
  });
});

describe("key files", () => {
  it("re-reads a changed file at most once a second, and keeps the last keys if it turns unreadable", () => {
    const path = join(folder, "ring.key");
    writeFileSync(path, `${KEY}\n`);
    const ring = new KeyRing({ kind: "file", path, origin: path });
    const start = Date.now() + 10_000;
    expect(ring.signingKey(start).secret.toString()).toBe(KEY);
    writeFileSync(path, `${SECOND}\n${KEY}\n`);
    expect(ring.signingKey(start + 500).secret.toString()).toBe(KEY);
    expect(ring.signingKey(start + 1_000).secret.toString()).toBe(SECOND);
    rmSync(path);
    expect(ring.signingKey(start + 2_000).secret.toString()).toBe(SECOND);
  });

  it("fails at creation for a missing file", () => {
    expect(() => new KeyRing({ kind: "file", path: join(folder, "none"), origin: "FUNKER_SECRET_FILE (none)" })).toThrow(
      "FUNKER_SECRET_FILE (none): the key file cannot be read: there is no such file",
    );
  });
});

describe("where the keys come from", () => {
  const env = { FUNKER_SECRET_FILE: "/run/secrets/funker-key", FUNKER_SECRET: KEY, FUNKER_SECRET_FILES: "payments=/run/secrets/payments-key" };

  it("a function's own key file first, then the key file, then the key text; code over the environment", () => {
    expect(keySourceFor("payments", {}, env)).toMatchObject({ kind: "file", path: "/run/secrets/payments-key" });
    expect(keySourceFor("add", {}, env)).toMatchObject({ kind: "file", path: "/run/secrets/funker-key" });
    expect(keySourceFor("add", {}, { FUNKER_SECRET: KEY })).toMatchObject({ kind: "text", text: KEY, origin: "FUNKER_SECRET" });
    expect(keySourceFor("payments", { secretFile: "/keys/mine" }, env)).toMatchObject({ kind: "file", path: "/keys/mine" });
    expect(keySourceFor("payments", { secretFile: "/keys/mine", secretFiles: { payments: "/keys/payments" } }, env)).toMatchObject({ path: "/keys/payments" });
    expect(keySourceFor("add", {}, {})).toBeUndefined();
    expect(keySourceFor("add", {}, { FUNKER_SECRET_FILE: "  " })).toBeUndefined();
  });

  it("parses FUNKER_SECRET_FILES and refuses an entry without a path", () => {
    expect(parseKeyFiles("a=/x; b = /y ;")).toEqual({ a: "/x", b: "/y" });
    expect(() => parseKeyFiles("a=/x;b")).toThrow('FUNKER_SECRET_FILES: "b" is not name=path');
    expect(Object.getPrototypeOf(parseKeyFiles("__proto__=/x"))).toBeNull();
  });

  it("writes FUNKER_SECRET_FILES as parseKeyFiles reads it, refusing what it could not read back", () => {
    const files = { pay: "/run/secrets/pay-key", add: "/tmp/funker keys/add" };
    expect(formatKeyFiles(files)).toBe("pay=/run/secrets/pay-key;add=/tmp/funker keys/add");
    expect(parseKeyFiles(formatKeyFiles(files))).toEqual(files);
    expect(() => formatKeyFiles({ pay: "/a;b" })).toThrow(SharedKeyError);
    expect(() => formatKeyFiles({ "a=b": "/x" })).toThrow(SharedKeyError);
  });
});
