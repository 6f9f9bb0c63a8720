import { once } from "node:events";
import { connect } from "node:net";
import type { Socket } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { afterEach, describe, expect, test } from "vitest";
import { watchConnectionAttempts } from "./attempts.js";
import type { AttemptWatch } from "./attempts.js";
import { freePort, startBlackHole, startServer } from "./test-servers.js";
import type { LocalEndpoint } from "./test-servers.js";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function endpoint(started: Promise<LocalEndpoint>): Promise<LocalEndpoint> {
  const ready = await started;
  cleanups.push(() => ready.close());
  return ready;
}

function watch(): AttemptWatch {
  const watching = watchConnectionAttempts();
  cleanups.push(() => watching.stop());
  return watching;
}

/** Opens a socket as a caller would, sends a call's first bytes, reads whatever comes, and waits until it closes. */
async function openUntilClosed(port: number): Promise<void> {
  const socket = connect(port, "127.0.0.1");
  const done = closed(socket);
  socket.on("error", () => undefined);
  socket.resume();
  socket.write("call");
  await done;
}

/** Resolves at the socket's 'close' (events.once would reject on its 'error' first); attach it before the socket can close. */
function closed(socket: Socket): Promise<void> {
  return new Promise((resolve) => socket.once("close", () => resolve()));
}

describe("counting connection attempts from outside the caller", () => {
  test("each closed socket counts as answered or as a failed attempt by its cause", async () => {
    const answering = await endpoint(startServer((socket) => socket.end("x")));
    // Both take the caller's first bytes first, so the caller's connection is certainly established,
    // as a single-shot replica's queued connection is when the replica resets it.
    const ending = await endpoint(startServer((socket) => socket.once("data", () => socket.end())));
    const resetting = await endpoint(startServer((socket) => socket.once("data", () => socket.resetAndDestroy())));
    const refusing = await endpoint(freePort());
    const blackHole = await endpoint(startBlackHole());
    const attempts = watch();

    for (let index = 0; index < 2; index += 1) await openUntilClosed(answering.port);
    for (let index = 0; index < 3; index += 1) await openUntilClosed(refusing.port);
    for (let index = 0; index < 2; index += 1) await openUntilClosed(ending.port);
    for (let index = 0; index < 2; index += 1) await openUntilClosed(resetting.port);
    // Given up before it was established, without an error: what a caller's connect time limit does.
    const abandoned: Socket[] = [connect(blackHole.port, "127.0.0.1"), connect(blackHole.port, "127.0.0.1")];
    await sleep(300);
    expect(abandoned.map((socket) => socket.connecting)).toEqual([true, true]);
    const abandonedClosed = abandoned.map(closed);
    for (const socket of abandoned) socket.destroy();
    await Promise.all(abandonedClosed);

    expect(ending.accepted).toBe(2);
    expect(resetting.accepted).toBe(2);
    expect(attempts.figures()).toEqual({
      socketsOpened: 11,
      socketsAnswered: 2,
      socketsPending: 0,
      failedAttempts: 9,
      failedAttemptsByCause: {
        "connect:ECONNREFUSED": 3,
        "connect:abandoned": 2,
        "unanswered:closed": 2,
        "unanswered:ECONNRESET": 2,
      },
      addressesAnswered: 1,
      // The errors alone, the figure this tool used to divide: it missed the abandoned and cleanly closed attempts.
      connectErrors: { ECONNREFUSED: 3, ECONNRESET: 2 },
    });
  });

  test("counts the bytes of a socket that reads into its own buffer, as the client's sockets do", async () => {
    const answering = await endpoint(startServer((socket) => socket.end("hello")));
    const attempts = watch();
    let received = 0;
    const onread = {
      buffer: Buffer.alloc(64),
      callback: (bytes: number): boolean => {
        received += bytes;
        return true;
      },
    };
    const socket = connect({ port: answering.port, host: "127.0.0.1", onread });
    await once(socket, "close");
    expect(received).toBe(5);
    expect(attempts.figures()).toMatchObject({ socketsOpened: 1, socketsAnswered: 1, failedAttempts: 0, addressesAnswered: 1 });
  });

  test("an open socket is answered once a byte came, pending before; sockets opened after stop() are not counted", async () => {
    const server = await endpoint(
      startServer((socket) => {
        socket.once("data", () => socket.write("y"));
      }),
    );
    const attempts = watch();
    const socket = connect(server.port, "127.0.0.1");
    cleanups.push(() => void socket.destroy());
    await once(socket, "connect");
    expect(attempts.figures()).toMatchObject({ socketsOpened: 1, socketsAnswered: 0, socketsPending: 1, failedAttempts: 0 });
    socket.write("x");
    await once(socket, "data");
    expect(attempts.figures()).toMatchObject({ socketsOpened: 1, socketsAnswered: 1, socketsPending: 0, addressesAnswered: 1 });

    attempts.stop();
    await openUntilClosed((await endpoint(freePort())).port);
    expect(attempts.figures()).toMatchObject({ socketsOpened: 1, failedAttempts: 0 });
  });
});
