import { handler } from "@funker/handler";
import { renderMarkdown } from "./markdown.js";

// Serves one call on port 9999 (FUNKER_PORT) and exits: every document is
// rendered by a fresh process, so nothing of one user's text outlives its call.
handler(renderMarkdown);
