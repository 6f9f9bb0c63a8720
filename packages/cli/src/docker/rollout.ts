/**
 * A service's `UpdateStatus` as `docker service inspect` gives it. Swarm
 * clears it when a service's spec changes, and its updater sets it again
 * when it starts replacing replicas: `updating`, then `completed`, `paused`,
 * or `rollback_started` and then `rollback_completed` or `rollback_paused`.
 * A service that was never updated has none.
 */
export interface UpdateStatus {
  readonly State?: string;
  readonly Message?: string;
  readonly StartedAt?: string;
}

/** Where `funker deploy` stands with one service's rolling update, from what it has seen of it so far. */
export type RolloutWatch =
  | { readonly kind: "waiting"; readonly what: string; readonly rollbackReason?: string }
  | { readonly kind: "done" }
  | { readonly kind: "failed"; readonly message: string };

/**
 * The next step of waiting for a rolling update that `funker deploy` has
 * just started. `before` is the service's status before the update: a
 * status with its start time is the previous update's, not ours yet.
 * `previous` carries the reason of a rollback in progress, because Swarm
 * replaces it with "rollback completed" once the rollback ends.
 */
export function watchRollout(status: UpdateStatus | undefined, before: UpdateStatus | undefined, previous?: RolloutWatch): RolloutWatch {
  const rollbackReason = previous?.kind === "waiting" ? previous.rollbackReason : undefined;
  if (status === undefined || status.State === undefined || (before?.StartedAt !== undefined && status.StartedAt === before.StartedAt)) {
    return { kind: "waiting", what: "update not started yet" };
  }
  const message = status.Message ?? "";
  switch (status.State) {
    case "updating":
      return { kind: "waiting", what: "updating" };
    case "completed":
      return { kind: "done" };
    case "rollback_started":
      return { kind: "waiting", what: "rolling back", rollbackReason: message };
    case "paused":
      return { kind: "failed", message: `Swarm paused the update: ${message}` };
    case "rollback_completed":
      return { kind: "failed", message: `Swarm rolled the update back, the previous spec runs again: ${rollbackReason ?? message}` };
    case "rollback_paused":
      return { kind: "failed", message: `Swarm rolled the update back, and paused the rollback: ${message}` };
    default:
      return { kind: "waiting", what: status.State };
  }
}

/**
 * Reads `docker service inspect --format '{{json .UpdateStatus}}'`: `null`
 * for a service never updated. Anything else that is not an object reads
 * as no status, so that a strange answer is waited out, not trusted.
 */
export function parseUpdateStatus(text: string): UpdateStatus | undefined {
  let record: Record<string, unknown>;
  try {
    const value: unknown = JSON.parse(text);
    if (typeof value !== "object" || value === null || Array.isArray(value)) return undefined;
    record = value as Record<string, unknown>;
  } catch {
    return undefined;
  }
  const status: { State?: string; Message?: string; StartedAt?: string } = {};
  for (const key of ["State", "Message", "StartedAt"] as const) {
    const field = record[key];
    if (typeof field === "string") status[key] = field;
  }
  return status;
}

/**
 * Reads a line of `docker service ls --format '{{.Name}} {{.Replicas}}'`
 * for one service: running and desired tasks. Swarm shows `2/3 (max 1 per
 * node)` with placement limits, hence only the first word counts.
 */
export function parseReplicas(lines: string, service: string): { running: number; desired: number } | undefined {
  const line = lines.split("\n").find((candidate) => candidate.startsWith(`${service} `));
  const match = /^(\d+)\/(\d+)/.exec(line?.slice(service.length + 1) ?? "");
  if (match === null) return undefined;
  return { running: Number(match[1]), desired: Number(match[2]) };
}
