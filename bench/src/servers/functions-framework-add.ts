/**
 * The add function for `@google-cloud/functions-framework`, the peer users
 * would otherwise pick: JSON body in, JSON number out, over HTTP. Exported by
 * name (the framework's `--target`), so this file needs nothing at run time.
 */
import type { Request, Response } from "@google-cloud/functions-framework";

export function add(request: Request, response: Response): void {
  const { x, y } = request.body as { x: number; y: number };
  response.json(x + y);
}
