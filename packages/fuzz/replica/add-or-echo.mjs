// The replica under fuzz: `add` for arguments with two numbers, and an echo of
// anything else, so that whatever the fuzz gets through to the function comes
// back through the handler's result encoding too. Prints {"port":N} once it
// listens (FUNKER_PORT=0).
import process from "node:process";
import { handler } from "@funker/handler";

const server = handler((args) => (typeof args?.x === "number" && typeof args?.y === "number" ? args.x + args.y : args));
server.ready.then(({ port }) => process.stdout.write(`${JSON.stringify({ port })}\n`));
