// process-vote as the 2017 seed's voting app wrote it: CommonJS, the 2017
// library's funker.handle with a callback, and the pg client. It calls the
// callback first, with no value, so the caller is answered at once and the
// vote is stored in the background; then it connects to the database named
// db, creates the table if it is missing, INSERTs the vote and, when the
// voter has voted before (a duplicate key), UPDATEs it instead. Any other
// error is thrown. The Docker stage runs this file as the function
// (docker/e2e/6-voting-app.test.ts); README.md tells what Funker's own
// src/handlers/process-vote.ts does differently.
var funker = require('funker');
var pg = require('pg');

funker.handle(function (args, callback) {
  // Return immediately so this function runs in the background
  callback();

  console.log('Processing vote for ' + args.vote + ' by ' + args.voter_id);

  var client = new pg.Client('postgres://postgres@db/postgres');
  client.connect(function (err) {
    if (err) throw err;
    client.query('CREATE TABLE IF NOT EXISTS votes (id VARCHAR(255) NOT NULL UNIQUE, vote VARCHAR(255) NOT NULL)', function (err) {
      if (err) throw err;
      client.query('INSERT INTO votes (id, vote) VALUES ($1, $2)', [args.voter_id, args.vote], function (err) {
        if (err && err.code === '23505') {
          // The voter has voted before: change the vote.
          client.query('UPDATE votes SET vote = $1 WHERE id = $2', [args.vote, args.voter_id], function (err) {
            if (err) throw err;
            client.end();
          });
          return;
        }
        if (err) throw err;
        client.end();
      });
    });
  });
});
