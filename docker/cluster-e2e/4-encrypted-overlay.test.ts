import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runId, TEST_LABEL } from "../e2e/support.js";
import { encryptedNetworkProblem, kernelCarriesEncryptedOverlay, probeOverlay } from "./overlay-check.js";
import type { LedgerDeployment } from "./support.js";
import { cluster, clusterImages, createNetwork, deployLedger, removeNetwork, removeServices, startCallers } from "./support.js";

// Docker encrypts an overlay network's traffic between nodes with IPsec when
// it is created with `--opt encrypted`. Whether that works depends on every
// node's kernel (ESP and AES-GCM); the engine does not refuse the network
// where it cannot, it drops the traffic. Funker's check (overlay-check.ts,
// which `funker deploy` is to run for an encrypted network) must say which
// case it is in, and calls must fail as typed errors that say they did not run.
describe("an encrypted overlay network", () => {
  const plain = `${runId()}-plain`;
  const encrypted = `${runId()}-enc`;
  const service = `${runId()}-enc`;
  let kernel: { supported: boolean; detail: string };
  let deployment: LedgerDeployment;

  beforeAll(async () => {
    kernel = await kernelCarriesEncryptedOverlay();
    await createNetwork(runId(), plain);
    await createNetwork(runId(), encrypted, ["--opt", "encrypted"]);
    deployment = await deployLedger({ runId: runId(), service, network: encrypted, replicas: cluster().nodes.length });
  });
  afterAll(async () => {
    await removeServices([service]);
    await removeNetwork(encrypted);
    await removeNetwork(plain);
  });

  it("is reported by the check as carrying traffic between nodes exactly when the kernel has IPsec (ESP, AES-GCM); a plain network always is", async () => {
    const labels = { [TEST_LABEL]: runId() };
    const plainProbe = await probeOverlay({ network: plain, image: clusterImages().caller, name: `${plain}-probe`, labels });
    expect(plainProbe.unreached).toEqual([]);
    expect(encryptedNetworkProblem(plain, plainProbe)).toBeUndefined();

    const probe = await probeOverlay({ network: encrypted, image: clusterImages().caller, name: `${encrypted}-probe`, labels });
    const problem = encryptedNetworkProblem(encrypted, probe);
    process.stdout.write(`[cluster e2e] kernel: ${kernel.supported ? "IPsec ESP/GCM available" : `no IPsec ESP/GCM (${kernel.detail})`}; check: ${problem ?? "traffic crosses nodes"}\n`);
    if (kernel.supported) {
      expect(probe.unreached).toEqual([]);
      expect(problem).toBeUndefined();
    } else {
      const others = cluster().nodes.map((node) => node.hostname).filter((host) => host !== probe.from);
      expect(probe.reached).toEqual([probe.from]);
      expect(probe.unreached).toEqual(others);
      expect(problem).toContain(`network ${encrypted} is encrypted`);
      expect(problem).toContain(others.join(", "));
      expect(problem).toMatch(/IPsec ESP.*CONFIG_INET_ESP, CONFIG_CRYPTO_GCM/s);
      // The engine's own words, on a node that tried to install the IPsec state.
      const logs = cluster().nodes.map((node) => readFileSync(join(cluster().root, node.name, "dockerd.log"), "utf8")).join("");
      expect(logs).toMatch(/Failed Adding [rf]SA\{.*rfc4106\(gcm\(aes\)\).*function not implemented/);
    }
  });

  it("answers calls from every replica when the kernel has IPsec; otherwise only the caller's own node answers, and the calls to the others end at their deadline, certainly not run", async () => {
    const callers = await startCallers({ runId: runId(), deployment, nodes: ["n1"], seconds: 0, concurrency: 1, eachReplica: true });
    const { summaries, records } = await callers.finished();
    const answeredBy = Object.values(summaries[0]?.replicas ?? {}).sort();
    if (kernel.supported) {
      expect(answeredBy).toEqual(cluster().nodes.map((node) => node.hostname).sort());
    } else {
      const own = cluster().nodes[0]?.hostname;
      // Each call had one address, which never connected: not delivered, so
      // tried again until its deadline, and reported as never run.
      expect(answeredBy).toEqual([own, "error deadline_exceeded", "error deadline_exceeded"].sort());
      const failed = records.filter((record) => record.code !== undefined);
      expect(failed.map((record) => [record.code, record.mayHaveRun])).toEqual([
        ["deadline_exceeded", false],
        ["deadline_exceeded", false],
      ]);
    }
  });
});
