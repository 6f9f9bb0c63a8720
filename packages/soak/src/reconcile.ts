/**
 * Reconciles a soak call by call: what each caller was told against what the
 * function executed. Pure, so that its rules are tested as a table.
 */

/** What the caller was told about one call. */
export type Told = { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly code: string; readonly mayHaveRun: boolean };

export interface Reconciliation {
  readonly calls: number;
  readonly succeeded: number;
  /** Failed calls by error code. */
  readonly errors: Readonly<Record<string, number>>;
  /** Failed calls the caller was told may have run, and how many of those did run. */
  readonly mayHaveRun: number;
  readonly mayHaveRunExecuted: number;
  /** Told success, yet not executed; or told nothing at all. */
  readonly lost: number;
  /** Executed more than once: a non-idempotent call must run at most once. */
  readonly duplicated: number;
  /** Told "did not run", yet executed. */
  readonly wrongNotRun: number;
  /** Told success with another value than the call's own id. */
  readonly wrongValue: number;
  /** Up to five ids of each kind of fault, to look them up in the logs. */
  readonly examples: Readonly<Record<string, readonly number[]>>;
}

const MAX_EXAMPLES = 5;

/**
 * `told` has an entry for every call made (undefined: the call never
 * settled); `executions` counts each id in the execution logs.
 */
export function reconcile(told: ReadonlyMap<number, Told | undefined>, executions: ReadonlyMap<number, number>): Reconciliation {
  let succeeded = 0;
  let mayHaveRun = 0;
  let mayHaveRunExecuted = 0;
  let lost = 0;
  let duplicated = 0;
  let wrongNotRun = 0;
  let wrongValue = 0;
  const errors: Record<string, number> = {};
  const examples: Record<string, number[]> = {};
  const example = (kind: string, id: number): void => {
    const list = (examples[kind] ??= []);
    if (list.length < MAX_EXAMPLES) list.push(id);
  };
  for (const [id, outcome] of told) {
    const executed = executions.get(id) ?? 0;
    if (executed > 1) {
      duplicated += 1;
      example("duplicated", id);
    }
    if (outcome === undefined) {
      lost += 1;
      example("unsettled", id);
      continue;
    }
    if (outcome.ok) {
      succeeded += 1;
      if (outcome.value !== id) {
        wrongValue += 1;
        example("wrongValue", id);
      }
      if (executed === 0) {
        lost += 1;
        example("lost", id);
      }
      continue;
    }
    errors[outcome.code] = (errors[outcome.code] ?? 0) + 1;
    if (outcome.mayHaveRun) {
      mayHaveRun += 1;
      if (executed > 0) mayHaveRunExecuted += 1;
    } else if (executed > 0) {
      wrongNotRun += 1;
      example("wrongNotRun", id);
    }
  }
  for (const id of executions.keys()) {
    if (!told.has(id)) {
      duplicated += 1;
      example("executedButNeverCalled", id);
    }
  }
  return { calls: told.size, succeeded, errors, mayHaveRun, mayHaveRunExecuted, lost, duplicated, wrongNotRun, wrongValue, examples };
}

/** Whether a soak kept every promise: nothing lost, nothing run twice, no wrong "did not run", no wrong value. */
export function heldUp(result: Reconciliation): boolean {
  return result.lost === 0 && result.duplicated === 0 && result.wrongNotRun === 0 && result.wrongValue === 0;
}
