// The 2017 seed's example, unchanged apart from the import.
import { handler } from "../dist/index.js";

handler(function (args, callback) {
  callback(args.x + args.y)
})
