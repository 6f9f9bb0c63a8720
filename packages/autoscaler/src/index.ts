export { decide, EMPTY_MEMORY } from "./decide.js";
export type { Decision, DecisionMemory, FunctionObservation, ReplicaObservation } from "./decide.js";
export { FUNCTION_LABEL, MAX_SCALE_REPLICAS, readScaleBounds, STATUS_PORT, SCALE_DEFAULTS, SCALE_LABELS, ScaleLabelError } from "./labels.js";
export type { ScaleBounds } from "./labels.js";
export { Autoscaler, DEFAULT_INTERVAL_MS, readStatus, WAKE_PORT } from "./autoscaler.js";
export type { AutoscalerLog, AutoscalerOptions, WakeAnswer } from "./autoscaler.js";
export { DEFAULT_DOCKER_SOCKET, DockerEngine, EngineError } from "./engine.js";
export type { ServiceSummary, TaskSummary } from "./engine.js";
