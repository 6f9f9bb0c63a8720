/**
 * `the arguments are`, `the result is`: the start of a message about `what`,
 * its verb agreeing with it (arguments are the one plural the codec names).
 */
export function subject(what: string, verb: "is" | "has"): string {
  if (what !== "arguments") return `the ${what} ${verb}`;
  return `the ${what} ${verb === "is" ? "are" : "have"}`;
}
