export declare const DEFAULT_CALLER_IMAGE: string;
export declare const DEFAULT_HANDLER_NODE_IMAGE: string;
export declare const DEFAULT_AUTOSCALER_IMAGE: string;
export declare function bundleCallerTools(folder: string): Promise<void>;
export declare function buildSupportImages(options?: {
  caller?: string;
  handlerNode?: string;
  autoscaler?: string;
  labels?: Record<string, string>;
  log?: (line: string) => void;
}): Promise<{ caller: string; handlerNode: string; autoscaler?: string }>;
