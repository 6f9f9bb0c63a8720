// The program: importing this module serves `add` on FUNKER_PORT (9999 by default),
// refusing arguments that do not match its schema with `bad_arguments`.
import { handler } from "@funker/handler";
import { add, AddArguments } from "./add.js";

handler(add, { schema: AddArguments });
