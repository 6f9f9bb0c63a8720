import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { brotliDecompressSync } from "node:zlib";
import sparticuzChromium from "@sparticuz/chromium";
import { chromium } from "playwright-core";
import type { Browser } from "playwright-core";

/**
 * A real Chromium for the browser tests, from the npm registry: the browser
 * ships inside the `@sparticuz/chromium` package, so `pnpm test` needs no
 * system package and no download beyond `pnpm install`. It is built for
 * Amazon Linux and links NSS, NSPR and expat, which a bare Debian machine
 * with only Node may lack; the package carries those libraries too
 * (`al2023.tar.br`), and they are unpacked once into a folder of their own
 * and given to the browser process alone through LD_LIBRARY_PATH.
 */
async function browserExecutable(): Promise<{ path: string; libraries: string }> {
  const path = await sparticuzChromium.executablePath();
  const libraries = join(tmpdir(), "funker-chromium-libraries");
  if (!existsSync(join(libraries, "lib", "libnss3.so"))) {
    // The package exports no package.json: its folder is two above its CommonJS entry (build/cjs/index.cjs).
    const archive = join(dirname(createRequire(import.meta.url).resolve("@sparticuz/chromium")), "..", "..", "bin", "al2023.tar.br");
    if (!existsSync(archive)) throw new Error(`${archive} is missing: the layout of @sparticuz/chromium changed`);
    const tar = join(tmpdir(), `funker-chromium-libraries-${process.pid}.tar`);
    mkdirSync(libraries, { recursive: true });
    writeFileSync(tar, brotliDecompressSync(readFileSync(archive)));
    execFileSync("tar", ["-xf", tar, "-C", libraries]);
  }
  return { path, libraries: join(libraries, "lib") };
}

/** A headless Chromium; each `browser.newContext()` is a visitor of its own (its own cookies). Close the browser to stop it. */
export async function launchBrowser(): Promise<Browser> {
  const { path, libraries } = await browserExecutable();
  return chromium.launch({
    executablePath: path,
    headless: true,
    // The package's flags for a headless server, plus no network of Chromium's own: this machine reaches nothing but the test's server.
    // Not its --single-process (made for one page per function call): several contexts in one process bring the browser down.
    args: [...sparticuzChromium.args.filter((flag) => flag !== "--single-process"), "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"],
    env: { ...process.env, LD_LIBRARY_PATH: [libraries, process.env["LD_LIBRARY_PATH"]].filter(Boolean).join(":") },
  });
}
