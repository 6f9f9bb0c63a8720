// `require('funker')` for seed/process-vote.cjs: the 2017 library's two names
// for serving a function, `handle` and `handler`, both Funker's handler.
// The 2017 call `funker.handle(fn)` takes no options, and neither does this.
const { handler } = require('@funker/handler');

module.exports = { handle: (fn) => handler(fn), handler: (fn) => handler(fn) };
