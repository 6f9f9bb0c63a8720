/**
 * Glue between Funker's own packages (`@funker/testing` above all).
 *
 * Outside semver: anything here may change in any release. Apps use the
 * public `setDefaultClient` instead.
 * @packageDocumentation
 */
import { currentInterceptor, setInterceptor } from "./interceptor.js";
import type { CallInterceptor } from "./interceptor.js";

export type { CallInterceptor, InterceptedCall } from "./interceptor.js";

/**
 * Routes every call of every client (the default one and those from
 * `createClient`, in every copy of this package) to `interceptor` instead of
 * the network, so fakes can answer. Arguments are still checked to be JSON,
 * and the deadline and abort signal still end a call the fake never answers.
 * Returns a function that restores the previous interceptor.
 *
 * Outside semver: for `@funker/testing`, which builds public fakes on it.
 */
export function installInterceptor(interceptor: CallInterceptor): () => void {
  const previous = currentInterceptor();
  setInterceptor(interceptor);
  return () => {
    setInterceptor(previous);
  };
}
