export { LEGACY_2017_FOLDER, call2017, call2017WhenListening, keep2017Replica, start2017Function } from "./legacy-2017.js";
export type { Kept2017Replica, Legacy2017CallOutcome, Legacy2017Caller, Legacy2017FunctionName, Running2017Function } from "./legacy-2017.js";
export { keepaliveTimerOn, loopbackSockets } from "./tcp-table.js";
export type { KernelSocket } from "./tcp-table.js";
export { OLDEST_SUPPORTED_NODE, oldestNode } from "./oldest-node.js";
