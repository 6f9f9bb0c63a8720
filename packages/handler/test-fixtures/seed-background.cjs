// The 2017 seed's process-vote pattern, verbatim apart from the module it
// requires and the work: it calls back first, then works "in the background";
// here the work writes the file its arguments name, 300 ms later.
var fs = require('fs');
var funker = require('@funker/handler');

funker.handler(function (args, callback) {
  // Return immediately so this function runs in the background
  callback();

  setTimeout(function () {
    fs.writeFileSync(args.file, 'written');
  }, 300);
});
