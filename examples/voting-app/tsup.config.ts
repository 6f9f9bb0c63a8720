import { defineConfig } from "tsup";

export default defineConfig([
  {
    // The functions need no build of their own: `funker dev` and `funker build`
    // bundle them from src/handlers/.
    entry: ["src/web.ts"],
    format: ["esm"],
    sourcemap: true,
    // The web service's image copies dist/web.js alone, so what it imports
    // (the Funker client, pg) is bundled into it rather than left as imports;
    // bundled CommonJS (pg) calls require(), which an ES module is given here.
    noExternal: [/^@funker\//, /^pg/],
    banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
  },
  {
    // The database of `funker dev`: PGlite's WebAssembly and data files stay in node_modules, where it finds them.
    entry: ["src/dev-db.ts"],
    format: ["esm"],
    sourcemap: true,
  },
]);
