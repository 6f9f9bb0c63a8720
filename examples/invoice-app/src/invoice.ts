import { call, FunkerError } from "@funker/client";

export interface InvoiceLine {
  readonly description: string;
  readonly cents: number;
}

/** What the app shows when the total cannot be computed. */
export class InvoiceUnavailable extends Error {
  override readonly name = "InvoiceUnavailable";
}

/**
 * Totals an invoice with the `add` function, one line at a time. The calls
 * are idempotent (adding two numbers twice is harmless), so the client may
 * retry them after a crashed replica. Errors become one message for users,
 * keeping the Funker error as the cause for the logs.
 */
export async function invoiceTotal(lines: readonly InvoiceLine[], options: { timeout?: number } = {}): Promise<number> {
  let total = 0;
  for (const line of lines) {
    try {
      total = await call<number>("add", { x: total, y: line.cents }, { idempotent: true, timeout: options.timeout ?? 2_000 });
    } catch (error) {
      if (error instanceof FunkerError) {
        throw new InvoiceUnavailable(`the invoice total is unavailable (${error.code}); try again shortly`, { cause: error });
      }
      throw error;
    }
  }
  return total;
}
