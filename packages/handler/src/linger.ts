/**
 * After the reply, how long the caller has to close its side before the
 * socket is reset. A caller that is still sending (an oversized body) gets
 * its reply first: closing with unread bytes would make the kernel send a
 * reset that can destroy the reply in flight.
 */
export const LINGER_MS = 1_000;
