import { describe, expect, it } from "vitest";
import { formatServices, rewriteServiceAddresses, serviceAddresses } from "./services.js";
import type { ServiceAddress } from "./services.js";

const services: ServiceAddress[] = [
  { name: "db", port: 5432, local: "127.0.0.1:40123" },
  { name: "web", port: 8080, local: "127.0.0.1:8080" },
];

describe("service addresses under funker dev", () => {
  it.each([
    ["a URL's host and port", "postgres://postgres@db:5432/postgres", "postgres://postgres@127.0.0.1:40123/postgres"],
    ["a URL without user or path", "http://web:8080", "http://127.0.0.1:8080"],
    ["the address alone", "db:5432", "127.0.0.1:40123"],
    ["a list", "db:5432,web:8080", "127.0.0.1:40123,127.0.0.1:8080"],
    ["a query string after it", "http://web:8080?x=1", "http://127.0.0.1:8080?x=1"],
  ])("replace %s", (_case, value, local) => {
    expect(rewriteServiceAddresses(value, services)).toBe(local);
  });

  it.each([
    ["another port", "postgres://db:5433/postgres"],
    ["a longer host name", "postgres://mydb:5432/x"],
    ["a longer port", "db:54321"],
    ["a path that merely contains it", "/srv/backup-db:5432.tar"],
    ["no address at all", "/var/lib/postgresql/data"],
  ])("leave %s as it is", (_case, value) => {
    expect(rewriteServiceAddresses(value, services)).toBe(value);
  });

  it("are listed in FUNKER_SERVICES, for the services that run here", () => {
    const ports = new Map([["db", 40_123]]);
    const spec = { command: ["x"], image: undefined, publish: undefined, environment: {}, volumes: [] };
    const addresses = serviceAddresses([{ ...spec, name: "db", port: 5432 }, { ...spec, name: "cache", port: 6379 }], ports, "127.0.0.1");
    expect(addresses).toEqual([{ name: "db", port: 5432, local: "127.0.0.1:40123" }]);
    expect(formatServices(services)).toBe("db=127.0.0.1:40123;web=127.0.0.1:8080");
  });
});
