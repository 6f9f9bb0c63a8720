import { handler } from "@funker/handler";
import { slugify } from "./slugify.js";

// Serves one call on port 9999 (FUNKER_PORT) and exits; Docker, or
// `funker dev`, starts a fresh replica for the next call.
handler(slugify);
