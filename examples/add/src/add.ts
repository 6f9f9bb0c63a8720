/** The arguments the seed's callers send: `{"x": 1, "y": 2}`. */
export interface AddArguments {
  x: number;
  y: number;
}

/** The 2017 seed's function, typed. Kept apart from `handler.ts` so that it can be imported without serving it. */
export function add(args: AddArguments): number {
  return args.x + args.y;
}
