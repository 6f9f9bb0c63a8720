/**
 * The function every implementation under the handler conformance suite must
 * serve. Its behaviour is chosen by `args.op`, so one deployed function covers
 * every check:
 *
 * | args | result |
 * | --- | --- |
 * | `{ op: "add", x, y }` | `x + y` |
 * | `{ op: "echo", value }` | `value` |
 * | `{ op: "none" }` | nothing (the caller receives `null`) |
 * | `{ op: "fail", message }` | throws an `Error` with `message` (`handler_error`) |
 * | `{ op: "sleep", ms }` | waits `ms`, then returns `"slept"`; stops early when the call is aborted |
 *
 * Implementations in other languages implement the same table.
 */
export type ConformanceArgs =
  | { op: "add"; x: number; y: number }
  | { op: "echo"; value: unknown }
  | { op: "none" }
  | { op: "fail"; message: string }
  | { op: "sleep"; ms: number };

// async: a function of two parameters that returns undefined synchronously
// would be taken for the 2017 callback style.
export async function conformanceFunction(args: ConformanceArgs, context: { signal: AbortSignal }): Promise<unknown> {
  switch (args.op) {
    case "add":
      return args.x + args.y;
    case "echo":
      return args.value;
    case "none":
      return undefined;
    case "fail":
      throw new Error(args.message);
    case "sleep":
      return await new Promise((resolve, reject) => {
        const timer = setTimeout(() => resolve("slept"), args.ms);
        context.signal.addEventListener(
          "abort",
          () => {
            clearTimeout(timer);
            reject(context.signal.reason as unknown);
          },
          { once: true },
        );
      });
    default:
      throw new Error(`unknown op ${JSON.stringify((args as { op?: unknown }).op)}`);
  }
}
