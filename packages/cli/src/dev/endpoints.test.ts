import { describe, expect, it } from "vitest";
import { formatEndpoints, protocolPins } from "./endpoints.js";

describe("formatEndpoints", () => {
  it("writes FUNKER_ENDPOINTS as the client reads it, pinned wire formats after the name", () => {
    const endpoints = { add: ["127.0.0.1:7001", "127.0.0.1:7002"], "old-add": ["127.0.0.1:7003"], idle: [] };
    expect(formatEndpoints(endpoints)).toBe("add=127.0.0.1:7001,127.0.0.1:7002;old-add=127.0.0.1:7003");
    expect(formatEndpoints(endpoints, { "old-add": "legacy", elsewhere: "framed" })).toBe("add=127.0.0.1:7001,127.0.0.1:7002;old-add@legacy=127.0.0.1:7003;elsewhere@framed");
  });

  it("pins the functions whose protocol is not auto", () => {
    expect(protocolPins([{ name: "add", protocol: "auto" }, { name: "old", protocol: "legacy" }])).toEqual({ old: "legacy" });
  });
});
