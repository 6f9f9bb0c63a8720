// The program of the process-vote function: serves one call on FUNKER_PORT
// (9999 by default) and exits; Swarm, or `funker dev`, starts the next
// replica. DATABASE_URL names the database; VOTE_WRITE says whether it
// replies after the write (strict) or before it (background).
import { handler } from "@funker/handler";
import { connectTo, createProcessVote, databaseUrlFrom, writeModeFrom } from "../functions.js";

handler(
  createProcessVote(connectTo(databaseUrlFrom()), writeModeFrom(), (error, vote) => {
    // After the reply nobody is waiting: the log is the only place a lost vote shows.
    console.error(`process-vote: the vote of ${vote.voter_id} for ${vote.vote} was acknowledged but not stored: ${String(error)}`);
  }),
);
