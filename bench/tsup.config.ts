import { defineConfig } from "tsup";

export default defineConfig({
  entry: [
    "src/main.ts",
    "src/caller.ts",
    "src/profile-summary.ts",
    "src/servers/raw-per-call.ts",
    "src/servers/raw-persistent.ts",
    "src/servers/bare-single-shot.ts",
    "src/servers/funker-add.ts",
    "src/servers/functions-framework-add.ts",
    "src/servers/grpc-add.ts",
    "src/servers/connect-add.ts",
    "src/servers/node-http-add.ts",
  ],
  // The peers load from node_modules, as a service using them runs (tsup
  // would otherwise bundle devDependencies into the bench's own files).
  external: ["@grpc/grpc-js", "@connectrpc/connect", "@connectrpc/connect-node", "@bufbuild/protobuf"],
  format: ["esm"],
  sourcemap: true,
  clean: true,
});
