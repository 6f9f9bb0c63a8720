// The program: importing this module serves `add` on FUNKER_PORT (9999 by default).
import { handler } from "@funker/handler";
import { add } from "./add.js";

handler(add);
