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
export { runHandlerConformance, runCallerConformance } from "./conformance.js";
export type {
  CallerConformanceOptions,
  CallerUnderTest,
  CheckResult,
  ConformanceReport,
  HandlerConformanceOptions,
  HandlerUnderTest,
} from "./conformance.js";
export { conformanceFunction } from "./conformance-function.js";
export type { ConformanceArgs } from "./conformance-function.js";
