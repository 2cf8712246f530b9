// The Docker daemon the docker tests use: RUNNER_TEST_DOCKER_HOST, else
// DOCKER_HOST, else the default socket. Where no daemon answers, the tests are
// skipped with a message that says so - except on CI (CI=true), which must
// have one: there a missing daemon fails the run. Everything a test makes
// carries the label runner-test=engine (or the test's own value) and a
// per-run label, so that `removeLabelled` cleans up exactly what it made.
import { randomBytes } from 'node:crypto';
import { DockerEngine, type LabelFilter } from '../../src/executors/docker/engine.ts';

/** The label every test object carries: `runner-test=<suite>`. */
export const TEST_LABEL = 'runner-test';

export function testDockerHost(): string {
  return process.env['RUNNER_TEST_DOCKER_HOST'] || process.env['DOCKER_HOST'] || 'unix:///var/run/docker.sock';
}

/**
 * Undefined when the daemon answers a ping and has the test images (test/support/docker/build-images.sh
 * builds them: no registry is reachable in CI); otherwise the reason to skip
 * (printed too, since Bun drops skip messages). Rejects instead on CI: CI must have Docker.
 */
export async function dockerAvailable(images: readonly string[] = ['runner-test/sh:1']): Promise<string | undefined> {
  const host = testDockerHost();
  let reason: string | undefined;
  let engine: DockerEngine | undefined;
  try {
    engine = new DockerEngine(host);
    await engine.ping(AbortSignal.timeout(5000));
    const missing: string[] = [];
    for (const image of images) if ((await engine.imageInspect(image)) === undefined) missing.push(image);
    if (missing.length > 0) {
      reason = `the Docker daemon at ${host} lacks the test images ${missing.join(', ')}: ` +
        `run DOCKER_HOST=${host} bash test/support/docker/build-images.sh`;
    }
  } catch (error) {
    reason = `no Docker daemon answers at ${host} (set RUNNER_TEST_DOCKER_HOST or DOCKER_HOST): ${(error as Error).message}`;
  } finally {
    engine?.close();
  }
  if (reason === undefined) return undefined;
  if (process.env['CI'] === 'true') throw new Error(`CI=true and the docker tests cannot run: ${reason}`);
  process.stderr.write(`SKIP: ${reason}\n`);
  return reason;
}

/** A name no other run uses: `<prefix>-<8 hex digits>`. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${randomBytes(4).toString('hex')}`;
}

/** Removes the containers (with their anonymous volumes), networks and volumes that carry the labels. */
export async function removeLabelled(engine: DockerEngine, labels: LabelFilter): Promise<void> {
  for (const container of await engine.containerList({ labels, all: true })) await engine.containerRemove(container.id, { force: true, volumes: true });
  for (const network of await engine.networkList({ labels })) await engine.networkRemove(network.id);
  for (const volume of await engine.volumeList({ labels })) await engine.volumeRemove(volume.name, true);
}
