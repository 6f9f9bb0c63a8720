import type { HandlerContext } from "./context.js";
import { FreshChild } from "./fresh-child.js";
import { freshChildAddress } from "./fresh-messages.js";
import { FreshSupervisor } from "./fresh-supervisor.js";
import type { AnyHandlerFunction } from "./invoke.js";
import type { HandlerOptions } from "./options.js";
import { resolveOptions } from "./options.js";
import type { FunctionServer } from "./server.js";
import { Server } from "./server.js";
import type { StandardSchemaV1 } from "./standard-schema.js";

/**
 * What a function may return: its result, a promise of it, or nothing when
 * it delivers the result through the callback.
 */
export type HandlerResult<Result> = Result | PromiseLike<Result> | void;

/** A function served by `handler()`. */
export type HandlerFunction<Args = unknown, Result = unknown> = (
  args: Args,
  context: HandlerContext<Result>,
) => HandlerResult<Result>;

/**
 * Serves `fn` as a Funker function: listens at once (port 9999 unless told
 * otherwise), so calling `handler(...)` at the top level of a module is the
 * whole program, as in 2017.
 *
 * `fn(args, context)` returns its result or a promise of it. The 2017 style
 * works too: a function declaring two parameters that returns nothing calls
 * `context(result)`, exactly as it called `callback(result)`.
 *
 * With `schema` (any Standard Schema validator: zod, valibot, arktype, …)
 * the arguments are validated, and typed, before `fn` runs.
 *
 * In mode `"fresh"` the program's process becomes a supervisor that runs the
 * program again, once per call: there `handler(...)` serves the one call the
 * supervisor hands it.
 *
 * @throws HandlerOptionsError when an option or its environment variable is invalid.
 */
export function handler<Args = unknown, Result = unknown>(
  fn: (args: Args, context: HandlerContext<Result>) => HandlerResult<Result>,
  options?: HandlerOptions & { schema?: undefined },
): FunctionServer;
export function handler<Schema extends StandardSchemaV1, Result = unknown>(
  fn: (args: StandardSchemaV1.InferOutput<Schema>, context: HandlerContext<Result>) => HandlerResult<Result>,
  options: HandlerOptions & { schema: Schema },
): FunctionServer;
export function handler(fn: AnyHandlerFunction, options?: HandlerOptions): FunctionServer {
  if (typeof fn !== "function") throw new TypeError("handler(fn): fn must be a function");
  const resolved = resolveOptions(options);
  if (resolved.mode !== "fresh") return new Server(fn, resolved);
  const supervisor = freshChildAddress(process.env);
  return supervisor !== undefined && process.send !== undefined ? new FreshChild(fn, resolved, supervisor) : new FreshSupervisor(resolved);
}

/**
 * `handler` under the name the 2017 funker-node README gave it
 * (`funker.handle(fn)`), so that functions written to it run unchanged; the
 * seed's own example used `funker.handler(fn)`. The same function.
 */
export const handle: typeof handler = handler;
