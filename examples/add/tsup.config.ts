import { defineConfig } from "tsup";

export default defineConfig({
  entry: ["src/handler.ts"],
  format: ["esm"],
  sourcemap: true,
  clean: true,
});
