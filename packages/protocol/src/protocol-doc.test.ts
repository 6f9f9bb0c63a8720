import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { DEFAULT_MAX_PAYLOAD_BYTES, MAX_HEADER_BYTES, errorCodeInfo, errorCodes } from "@funker/protocol";

// PROTOCOL.md restates data that lives in the code and in the vectors; these
// checks keep the two from drifting apart.

const specification = readFileSync(new URL("../PROTOCOL.md", import.meta.url), "utf8");
interface VersionSection {
  frames: { hex: string }[];
  exchanges: { callerToHandler: string; handlerToCaller: string }[];
}
const vectors = JSON.parse(readFileSync(new URL("../test-vectors/vectors.json", import.meta.url), "utf8")) as {
  versions: Record<"1" | "2", VersionSection>;
  legacy: { hex: string }[];
};

describe("PROTOCOL.md", () => {
  it("lists every error code with the retry rule and may-have-run of errorCodeInfo", () => {
    for (const code of errorCodes) {
      const { mayHaveRun, retry, description } = errorCodeInfo[code];
      expect(specification).toContain(`| \`${code}\` | ${mayHaveRun ? "yes" : "no"} | ${retry} | ${description} |`);
    }
  });

  it("states the limits of limits.ts", () => {
    expect(specification).toContain(`8 MiB (${DEFAULT_MAX_PAYLOAD_BYTES.toLocaleString("en-US")} bytes)`);
    expect(specification).toContain(`64 KiB (${MAX_HEADER_BYTES.toLocaleString("en-US")} bytes)`);
  });

  it("shows only hex dumps taken from the golden vectors", () => {
    const known = new Set([
      ...Object.values(vectors.versions).flatMap((section) => [
        ...section.frames.map((frame) => frame.hex),
        ...section.exchanges.flatMap((exchange) => [exchange.callerToHandler, exchange.handlerToCaller]),
      ]),
      ...vectors.legacy.map((body) => body.hex),
    ]);
    const dumps = [...specification.matchAll(/```text\n([\s\S]*?)```/g)].map((match) =>
      (match[1] ?? "")
        .split("\n")
        .filter((line) => /^[0-9a-f]{4} {2}/.test(line))
        .map((line) => line.slice(6, 6 + 48).replace(/\s+/g, ""))
        .join(""),
    );
    expect(dumps.length).toBeGreaterThanOrEqual(8);
    for (const dump of dumps) expect(known.has(dump), dump).toBe(true);
  });
});
