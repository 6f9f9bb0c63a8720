import * as v from "valibot";

/**
 * The arguments the seed's callers send: `{"x": 1, "y": 2}`. A schema, not
 * only a type: the handler checks each call's arguments against it, so
 * `funker call add x=notanumber y=2` fails with `bad_arguments` at `x`
 * instead of answering "notanumber2". valibot rather than zod: its functions
 * are imported one by one, so the bundle holds only those used here.
 */
export const AddArguments = v.object({ x: v.number(), y: v.number() });
export type AddArguments = v.InferOutput<typeof AddArguments>;

/** The 2017 seed's function, typed. Kept apart from `handler.ts` so that it can be imported without serving it. */
export function add(args: AddArguments): number {
  return args.x + args.y;
}
