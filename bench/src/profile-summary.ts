/** `node bench/dist/profile-summary.js <file.cpuprofile> [top]`: prints a profile's self time by owner and its top functions. */
import { argv } from "node:process";
import { summarizeProfile } from "./summarize-profile.js";

const [path, top] = argv.slice(2);
if (path === undefined) {
  console.error("usage: node bench/dist/profile-summary.js <file.cpuprofile> [top]");
  process.exitCode = 2;
} else {
  console.log(await summarizeProfile(path, top === undefined ? 25 : Number(top)));
}
