// The program of the process-vote function: serves one call on FUNKER_PORT
// (9999 by default) and exits; Swarm, or `funker dev`, starts the next replica.
import { handler } from "@funker/handler";
import { createProcessVote } from "../functions.js";
import { storeFromEnvironment } from "../votes.js";

handler(createProcessVote(storeFromEnvironment()));
