// A function written to the 2017 funker-node README, which named it funker.handle.
var funker = require('@funker/handler');

funker.handle(function(args, callback) {
  callback(args.x + args.y);
});
