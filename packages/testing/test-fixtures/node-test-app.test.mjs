// An app's test under node:test, using the fake with no test runner of its own.
import { test } from "node:test";
import assert from "node:assert/strict";
import { call } from "@funker/client";
import { fakeFunctions } from "@funker/testing";

test("the app adds through a fake", async () => {
  const fake = fakeFunctions({ add: ({ x, y }) => x + y });
  try {
    assert.equal(await call("add", { x: 20, y: 22 }), 42);
    assert.equal(fake.callsTo("add").length, 1);
  } finally {
    fake.restore();
  }
});
