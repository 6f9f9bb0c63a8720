import { handler } from "@funker/handler";

handler(function (args, callback) {
  callback(args.x + args.y)
})
