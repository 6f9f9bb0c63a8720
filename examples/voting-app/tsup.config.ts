import { defineConfig } from "tsup";

export default defineConfig({
  // The functions need no build of their own: `funker dev` and `funker build`
  // bundle them from src/handlers/.
  entry: ["src/web.ts"],
  format: ["esm"],
  sourcemap: true,
  clean: true,
  // The web service's image copies dist/web.js alone, so the workspace
  // packages it calls are bundled into it rather than left as imports.
  noExternal: [/^@funker\//],
});
