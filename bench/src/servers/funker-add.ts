/**
 * The add function served by `@funker/handler` (built dist), configured by
 * the environment as a deployed replica is: FUNKER_PORT, FUNKER_MODE,
 * FUNKER_CONCURRENCY, FUNKER_LOG. Used when the add example is not built.
 */
import { handler } from "@funker/handler";

handler(({ x, y }: { x: number; y: number }) => x + y);
