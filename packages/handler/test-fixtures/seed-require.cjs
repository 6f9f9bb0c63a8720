// The 2017 seed's handler.js, verbatim apart from the module it requires.
var funker = require('@funker/handler');

funker.handler(function(args, callback) {
  callback(args.x + args.y);
});
