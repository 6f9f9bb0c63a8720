/**
 * The scaling bounds of a function, read from the labels `funker deploy`
 * writes on its service. A label written by hand can be wrong: a wrong one
 * is a `ScaleLabelError`, and the autoscaler leaves that service alone.
 */

/**
 * The port on which the autoscaler reads a replica's status (`/status`): the
 * handler's `statusPort`, which `funker deploy` sets to it for functions with
 * `scale`. Beside the call port 9999.
 */
export const STATUS_PORT = 9998;

/** The label that marks a service as a Funker function (its value: the function's name). */
export const FUNCTION_LABEL = "io.funker.function";

/** The labels of the bounds, as `funker deploy` writes them from funker.yml's `scale`. */
export const SCALE_LABELS = {
  min: "io.funker.scale.min",
  max: "io.funker.scale.max",
  idleMs: "io.funker.scale.idle-ms",
  warm: "io.funker.scale.warm",
} as const;

/**
 * Defaults for the labels a service may lack:
 * - `min` 0: as funker.yml's `scale.min`; with `warm` at 1 a function still keeps one replica.
 * - `warm` 1: one call can always start at once, the least that spares callers a replica start.
 * - `idleMs` 5 min: long enough that a load with pauses of a minute or two does not scale down between its bursts,
 *   short enough that a function left alone gives its memory back within minutes.
 */
export const SCALE_DEFAULTS = { min: 0, warm: 1, idleMs: 300_000 } as const;

/** Replicas a label may name: as funker.yml's ceiling, where a typo such as 1000 is caught. */
export const MAX_SCALE_REPLICAS = 100;
/** Node's longest timer (about 24.8 days): a longer cool-down would mean never. */
const MAX_IDLE_MS = 2 ** 31 - 1;

/** A function's bounds: replicas from `min` to `max`, `warm` free calls kept, scaled down after `idleMs` of surplus. */
export interface ScaleBounds {
  readonly min: number;
  readonly max: number;
  readonly warm: number;
  readonly idleMs: number;
}

/** A service's scale labels are wrong; `code` is stable, the message names the label and the value. */
export class ScaleLabelError extends Error {
  override readonly name = "ScaleLabelError";
  readonly code = "bad_scale_label";
}

/**
 * The bounds of a service from its labels; undefined when it carries no
 * `io.funker.scale.max` label, which is how `funker deploy` marks a function
 * without `scale` (the autoscaler leaves it at its replica count).
 *
 * @throws ScaleLabelError when a label is not a whole number in its range, or `max` is below `min`.
 */
export function readScaleBounds(labels: Readonly<Record<string, string>>): ScaleBounds | undefined {
  if (labels[SCALE_LABELS.max] === undefined) {
    const stray = Object.values(SCALE_LABELS).find((label) => labels[label] !== undefined);
    if (stray !== undefined) throw new ScaleLabelError(`${stray} is set but ${SCALE_LABELS.max} is missing`);
    return undefined;
  }
  const min = wholeNumber(labels, SCALE_LABELS.min, 0, MAX_SCALE_REPLICAS) ?? SCALE_DEFAULTS.min;
  const max = wholeNumber(labels, SCALE_LABELS.max, 1, MAX_SCALE_REPLICAS) ?? min;
  const warm = wholeNumber(labels, SCALE_LABELS.warm, 0, MAX_SCALE_REPLICAS) ?? SCALE_DEFAULTS.warm;
  const idleMs = wholeNumber(labels, SCALE_LABELS.idleMs, 1, MAX_IDLE_MS) ?? SCALE_DEFAULTS.idleMs;
  if (max < min) throw new ScaleLabelError(`${SCALE_LABELS.max} (${max}) is below ${SCALE_LABELS.min} (${min})`);
  return { min, max, warm, idleMs };
}

function wholeNumber(labels: Readonly<Record<string, string>>, label: string, lowest: number, highest: number): number | undefined {
  const text = labels[label];
  if (text === undefined) return undefined;
  const value = /^\d{1,10}$/.test(text.trim()) ? Number(text.trim()) : Number.NaN;
  if (!(value >= lowest && value <= highest)) {
    throw new ScaleLabelError(`${label} must be a whole number from ${lowest} to ${highest}; got ${JSON.stringify(text.slice(0, 40))}`);
  }
  return value;
}
