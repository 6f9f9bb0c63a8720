export { fakeFunctions } from "./fake.js";
export type {
  FakeFunctions,
  FakeImplementation,
  FakeImplementations,
  FunctionMap,
  RecordedCall,
  UntypedFunctions,
} from "./fake.js";
export { startFunction, freePort } from "./harness.js";
export type { RunningFunction, StartFunctionOptions } from "./harness.js";
export { runHandlerConformance } from "./conformance/handler-conformance.js";
export type { HandlerConformanceOptions, HandlerUnderTest } from "./conformance/handler-conformance.js";
export { runCallerConformance } from "./conformance/caller-conformance.js";
export type { CallerConformanceOptions, CallerUnderTest } from "./conformance/caller-conformance.js";
export type { CheckResult, ConformanceReport } from "./conformance/report.js";
export { conformanceFunction } from "./conformance/conformance-function.js";
export type { ConformanceArgs } from "./conformance/conformance-function.js";
