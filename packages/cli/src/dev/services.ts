import type { ServiceSpec } from "../config/funker-yml.js";

/**
 * The variable that lists every service's local address under `funker dev`,
 * in the form of `FUNKER_ENDPOINTS` (`db=127.0.0.1:40123;web=127.0.0.1:8080`),
 * for programs that look a service up by name rather than through a
 * variable of funker.yml. On Docker the service's name is its host.
 */
export const SERVICES_VARIABLE = "FUNKER_SERVICES";

/** Where a service is reached: on Docker `<name>:<port>`, here `local`. */
export interface ServiceAddress {
  readonly name: string;
  /** The port of funker.yml, as the Docker network sees it. */
  readonly port: number;
  /** `127.0.0.1:<port>`: where `funker dev` runs it. */
  readonly local: string;
}

/** The local address of each service `funker dev` runs, from the port each was given. */
export function serviceAddresses(services: readonly ServiceSpec[], localPorts: ReadonlyMap<string, number>, host: string): ServiceAddress[] {
  return services.flatMap((spec) => {
    const port = localPorts.get(spec.name);
    return port === undefined ? [] : [{ name: spec.name, port: spec.port, local: `${host}:${port}` }];
  });
}

/**
 * A variable's value with each service's Docker address, `<name>:<port>`,
 * replaced by its local one, where it stands as a whole host and port: alone,
 * or in a URL (`postgres://postgres@db:5432/postgres`), or in a list. So one
 * funker.yml serves a laptop and a Swarm, as volumes' targets do.
 */
export function rewriteServiceAddresses(value: string, services: readonly ServiceAddress[]): string {
  let rewritten = value;
  for (const service of services) {
    const docker = `${service.name}:${service.port}`.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    rewritten = rewritten.replace(new RegExp(`(^|[@/,;=\\s])${docker}(?=$|[/?#,;\\s])`, "g"), `$1${service.local}`);
  }
  return rewritten;
}

/** `FUNKER_SERVICES`'s value. */
export function formatServices(services: readonly ServiceAddress[]): string {
  return services.map((service) => `${service.name}=${service.local}`).join(";");
}
