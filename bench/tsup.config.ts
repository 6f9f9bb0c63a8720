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
  ],
  format: ["esm"],
  sourcemap: true,
  clean: true,
});
