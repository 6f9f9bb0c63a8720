import { debuglog } from "node:util";
import type { ProtocolVersion } from "@funker/protocol";

/** `NODE_DEBUG=funker` prints these lines; they are off otherwise. */
const debug = debuglog("funker");

/** Addresses remembered at once: a cluster's replicas many times over; the oldest is forgotten first. */
const MOST_ADDRESSES = 4_096;

/**
 * Probes in a row that got no HELLO before a function is taken for a 2017
 * one. One could be a Funker replica stalled past the HELLO timeout (a
 * blocked event loop, a dead container whose connection was still
 * accepted); the retry after it goes to a replica that answers. Two in a
 * row, with no HELLO from any replica of the function in between, are a
 * 2017 function's silence: it costs two of its replica starts to learn.
 */
const SILENT_PROBES_FOR_LEGACY = 2;

/**
 * What a client has learnt about who speaks what (PROTOCOL.md section 4):
 *
 * - per address, the framed version its replica spoke: a new connection to
 *   it then sends the preface and the call together;
 * - per function, that it speaks only the 2017 format (its replica did not
 *   answer the framed preface in time): its calls go in the 2017 format.
 *
 * The function's memory is refreshed by every 2017 reply that carries no
 * legacy mark (a 2017 function answered), forgotten at a reply that carries
 * it (a Funker handler answered), and lapses once no 2017 reply came for
 * `legacyMemoryMs`: a function whose 2017 replicas have all been replaced
 * then speaks framed again, without a probe killing a 2017 replica while
 * any is still answering.
 */
export class ProtocolMemory {
  private readonly versions = new Map<string, ProtocolVersion>();
  /** Function name → when a 2017 replica of it last answered (or was found). */
  private readonly legacy = new Map<string, number>();
  /** Function name → probes in a row that got no HELLO. */
  private readonly silentProbes = new Map<string, number>();

  constructor(private readonly legacyMemoryMs: number) {}

  versionAt(addressKey: string): ProtocolVersion | undefined {
    return this.versions.get(addressKey);
  }

  learnVersion(addressKey: string, version: ProtocolVersion): void {
    if (this.versions.get(addressKey) === version) return;
    this.versions.delete(addressKey);
    if (this.versions.size >= MOST_ADDRESSES) this.versions.delete(this.versions.keys().next().value as string);
    this.versions.set(addressKey, version);
  }

  /** The address did not speak as remembered (another replica took it over). */
  forgetAddress(addressKey: string): void {
    this.versions.delete(addressKey);
  }

  /** Whether calls to `name` go in the 2017 format now. */
  speaksLegacy(name: string, now: number): boolean {
    const since = this.legacy.get(name);
    if (since === undefined) return false;
    if (now - since < this.legacyMemoryMs) return true;
    this.legacy.delete(name);
    debug('"%s": no 2017 replica answered for %d ms: trying the framed protocol again', name, this.legacyMemoryMs);
    return false;
  }

  /** A replica of `name` answered the preface with a HELLO. */
  sawHello(name: string): void {
    if (this.silentProbes.size > 0) this.silentProbes.delete(name);
  }

  /**
   * A replica of `name` did not answer the framed preface in time. Returns
   * whether `name` is now taken for a 2017 function (and says so, once).
   */
  sawSilentProbe(name: string, address: string, waitedMs: number, now: number): boolean {
    const probes = (this.silentProbes.get(name) ?? 0) + 1;
    if (probes < SILENT_PROBES_FOR_LEGACY) {
      this.silentProbes.set(name, probes);
      debug('"%s" at %s did not answer the framed preface within %d ms: trying another connection', name, address, waitedMs);
      return false;
    }
    this.silentProbes.delete(name);
    if (!this.legacy.has(name)) {
      debug('"%s" did not answer the framed preface within %d ms, %d times in a row (last at %s): calling it in the 2017 format (its metadata and trace context are not sent)', name, waitedMs, probes, address);
    }
    this.legacy.set(name, now);
    return true;
  }

  /** A 2017-format reply: without the legacy mark, a 2017 replica of `name` still answers; with it, a Funker handler did, and `name` speaks framed again. */
  sawLegacyReply(name: string, marked: boolean, now: number): void {
    if (!this.legacy.has(name)) return;
    if (!marked) {
      this.legacy.set(name, now);
      return;
    }
    this.legacy.delete(name);
    debug('"%s" answered a 2017-format call as a Funker handler: calling it framed again', name);
  }
}
