import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { readSecret, secretPath } from "@funker/handler";

const saved = process.env["FUNKER_SECRETS_DIR"];
const folders: string[] = [];

function secretsFolder(files: Record<string, string>): string {
  const folder = mkdtempSync(join(tmpdir(), "funker-secrets-test-"));
  folders.push(folder);
  for (const [name, text] of Object.entries(files)) writeFileSync(join(folder, name), text, { mode: 0o600 });
  return folder;
}

afterEach(() => {
  if (saved === undefined) delete process.env["FUNKER_SECRETS_DIR"];
  else process.env["FUNKER_SECRETS_DIR"] = saved;
  for (const folder of folders.splice(0)) rmSync(folder, { recursive: true, force: true });
});

describe("secrets", () => {
  it("are read from FUNKER_SECRETS_DIR when set (funker dev), from /run/secrets otherwise (Docker)", () => {
    delete process.env["FUNKER_SECRETS_DIR"];
    expect(secretPath("db-password")).toBe("/run/secrets/db-password");
    process.env["FUNKER_SECRETS_DIR"] = secretsFolder({ "db-password": "hunter2" });
    expect(secretPath("db-password")).toBe(join(process.env["FUNKER_SECRETS_DIR"], "db-password"));
    expect(readSecret("db-password")).toBe("hunter2");
  });

  it("lose the line break that echo adds, and nothing else", () => {
    process.env["FUNKER_SECRETS_DIR"] = secretsFolder({ echoed: "s3cret\n", windows: "s3cret\r\n", inner: " two\nlines " });
    expect(readSecret("echoed")).toBe("s3cret");
    expect(readSecret("windows")).toBe("s3cret");
    expect(readSecret("inner")).toBe(" two\nlines ");
  });

  it("refuse a name that could reach outside the folder", () => {
    for (const name of ["../etc/passwd", "a/b", "..", ".", "", ".hidden"]) {
      expect(() => secretPath(name), name).toThrow(TypeError);
    }
  });

  it("missing: the error names the secret and the path, and where to declare it", () => {
    process.env["FUNKER_SECRETS_DIR"] = secretsFolder({});
    expect(() => readSecret("api-key")).toThrow(/the secret "api-key" cannot be read from .*api-key: there is no such file \(declare it under the function's secrets in funker\.yml\)/);
  });
});
