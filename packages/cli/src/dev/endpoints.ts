/** The variable `@funker/client` reads its endpoints from (`funker dev` sets it for replicas and the command). */
export const ENDPOINTS_VARIABLE = "FUNKER_ENDPOINTS";

/** Where each function's replicas listen: function name → `host:port` addresses. */
export type EndpointMap = Readonly<Record<string, readonly string[]>>;

/**
 * Formats endpoints the way `@funker/client` reads `FUNKER_ENDPOINTS`:
 * functions separated by `;`, a function's replicas by `,`
 * (`add=127.0.0.1:7001,127.0.0.1:7002;echo=127.0.0.1:7003`).
 */
export function formatEndpoints(endpoints: EndpointMap): string {
  return Object.entries(endpoints)
    .filter(([, addresses]) => addresses.length > 0)
    .map(([name, addresses]) => `${name}=${addresses.join(",")}`)
    .join(";");
}
