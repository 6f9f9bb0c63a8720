import { describe, expectTypeOf, it } from "vitest";
import { z } from "zod";
import { handler } from "@funker/handler";
import type { CallInfo, FunctionServer, HandlerContext, ServerState } from "@funker/handler";

// Type tests only: nothing here runs, so no server is started.
describe("handler types", () => {
  it("infers the arguments from the function's annotation", () => {
    const typed = () =>
      handler((args: { x: number; y: number }, context) => {
        expectTypeOf(args).toEqualTypeOf<{ x: number; y: number }>();
        expectTypeOf(context).toMatchTypeOf<CallInfo>();
        return args.x + args.y;
      });
    expectTypeOf(typed).returns.toEqualTypeOf<FunctionServer>();
  });

  it("leaves unannotated arguments unknown", () => {
    const untyped = () =>
      handler((args) => {
        expectTypeOf(args).toBeUnknown();
        return null;
      });
    expectTypeOf(untyped).returns.toEqualTypeOf<FunctionServer>();
  });

  it("infers the result from a returned promise", () => {
    const asyncHandler = () =>
      handler(async (args: { n: number }) => {
        return args.n * 2;
      });
    expectTypeOf(asyncHandler).returns.toEqualTypeOf<FunctionServer>();
  });

  it("types the callback with explicit type arguments", () => {
    const explicit = () =>
      handler<{ x: number; y: number }, number>(function (args, callback) {
        expectTypeOf(args).toEqualTypeOf<{ x: number; y: number }>();
        expectTypeOf(callback).toEqualTypeOf<HandlerContext<number>>();
        expectTypeOf(callback).parameter(0).toEqualTypeOf<number>();
        callback(args.x + args.y);
      });
    expectTypeOf(explicit).returns.toEqualTypeOf<FunctionServer>();
  });

  it("checks the result type when it is given", () => {
    // @ts-expect-error: the function returns a string, not a number
    const wrong = () => handler<{ x: number }, number>((args) => String(args.x));
    expectTypeOf(wrong).returns.toEqualTypeOf<FunctionServer>();
  });

  it("accepts any value in the 2017 callback of a function that returns nothing", () => {
    const seed = () =>
      handler(function (args: { x: number; y: number }, callback) {
        expectTypeOf(callback).parameter(0).toBeUnknown();
        callback(args.x + args.y);
      });
    expectTypeOf(seed).returns.toEqualTypeOf<FunctionServer>();
  });

  it("types the arguments from a schema's output", () => {
    const schema = z.object({ name: z.string(), times: z.number().default(1) });
    const withSchema = () =>
      handler(
        (args) => {
          expectTypeOf(args).toEqualTypeOf<{ name: string; times: number }>();
          return args.name.repeat(args.times);
        },
        { schema },
      );
    expectTypeOf(withSchema).returns.toEqualTypeOf<FunctionServer>();
  });

  it("rejects a function whose arguments do not match the schema", () => {
    const schema = z.object({ name: z.string() });
    // @ts-expect-error: the schema says `name` is a string
    const mismatched = () => handler((args: { name: number }) => args.name, { schema });
    expectTypeOf(mismatched).returns.toEqualTypeOf<FunctionServer>();
  });

  it("exposes a read-only state snapshot", () => {
    expectTypeOf<FunctionServer["state"]>().toEqualTypeOf<ServerState>();
    expectTypeOf<ServerState["status"]>().toEqualTypeOf<"idle" | "busy" | "closed">();
    expectTypeOf<FunctionServer["ready"]>().toEqualTypeOf<Promise<{ host: string; port: number }>>();
  });
});
