/** The variable `@funker/client` reads its endpoints from (`funker dev` sets it for replicas and the command). */
export const ENDPOINTS_VARIABLE = "FUNKER_ENDPOINTS";

/** Where each function's replicas listen: function name → `host:port` addresses. */
export type EndpointMap = Readonly<Record<string, readonly string[]>>;

/** Functions whose callers' wire format is pinned (funker.yml's `protocol`), by name. */
export type ProtocolPins = Readonly<Record<string, "framed" | "legacy">>;

/**
 * Formats endpoints the way `@funker/client` reads `FUNKER_ENDPOINTS`:
 * functions separated by `;`, a function's replicas by `,`
 * (`add=127.0.0.1:7001,127.0.0.1:7002;echo=127.0.0.1:7003`), and a pinned
 * wire format after the name (`old-add@legacy=127.0.0.1:7004`, or
 * `old-add@legacy` alone when its replicas are found by DNS).
 */
export function formatEndpoints(endpoints: EndpointMap, pins: ProtocolPins = {}): string {
  const entries = Object.entries(endpoints)
    .filter(([, addresses]) => addresses.length > 0)
    .map(([name, addresses]) => `${pins[name] === undefined ? name : `${name}@${pins[name]}`}=${addresses.join(",")}`);
  for (const [name, protocol] of Object.entries(pins)) if ((endpoints[name] ?? []).length === 0) entries.push(`${name}@${protocol}`);
  return entries.join(";");
}

/** The pins of funker.yml's functions: those whose `protocol` is not `auto`. */
export function protocolPins(functions: readonly { readonly name: string; readonly protocol: "auto" | "framed" | "legacy" }[]): ProtocolPins {
  const pins: Record<string, "framed" | "legacy"> = {};
  for (const spec of functions) if (spec.protocol !== "auto") pins[spec.name] = spec.protocol;
  return pins;
}
