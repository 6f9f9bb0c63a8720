export { decide, EMPTY_MEMORY } from "./decide.js";
export type { Decision, DecisionMemory, FunctionObservation, ReplicaObservation } from "./decide.js";
export { FUNCTION_LABEL, MAX_SCALE_REPLICAS, readScaleBounds, STATUS_PORT, SCALE_DEFAULTS, SCALE_LABELS, ScaleLabelError } from "./labels.js";
export type { ScaleBounds } from "./labels.js";
