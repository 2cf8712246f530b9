// What the docker jobs of one runner share: its Docker Engine client, what the
// daemon is (its cgroup driver), and the sweep that removes what a crashed
// predecessor of this runner left (containers and networks labelled with the
// runner's system id, token and name, and their empty job cgroups). Jobs wait
// for the sweep before they make anything, so it never removes theirs.
import { createHash } from 'node:crypto';
import { DockerEngine } from './engine.ts';
import { removeLeftoverCgroups } from './job-cgroup.ts';
import { runnerLabels } from './naming.ts';

export interface LeftoverReport {
  readonly containers: number;
  readonly networks: number;
}

export class DockerRunner {
  readonly engine: DockerEngine;
  /** The start of this runner's job cgroups' names: a hash of its identity, so a sweep finds only its own. */
  readonly cgroupPrefix: string;
  private sweep: Promise<LeftoverReport> | undefined;
  private driver: Promise<boolean> | undefined;

  constructor(
    host: string,
    private readonly identity: { readonly shortToken: string; readonly systemId: string; readonly runnerName: string },
    private readonly onSweepError: (error: Error) => void = () => {},
  ) {
    this.engine = new DockerEngine(host);
    this.cgroupPrefix = `${createHash('sha256').update(`${identity.systemId}\0${identity.shortToken}\0${identity.runnerName}`).digest('hex').slice(0, 12)}-`;
  }

  /** Removes this runner's leftovers once (a failure is reported, and jobs go on). */
  startSweep(): Promise<LeftoverReport> {
    this.sweep ??= this.removeLeftovers().catch((error: Error) => {
      this.onSweepError(error);
      return { containers: 0, networks: 0 };
    });
    return this.sweep;
  }

  /** Resolves once the sweep (if one was started) is over. */
  async ready(): Promise<void> {
    if (this.sweep !== undefined) await this.sweep;
  }

  /** Whether the daemon places cgroups itself under /sys/fs/cgroup (the cgroupfs driver), asked once. */
  cgroupfs(): Promise<boolean> {
    this.driver ??= this.engine.info().then((info) => info.cgroupDriver === 'cgroupfs', () => false);
    return this.driver;
  }

  private async removeLeftovers(): Promise<LeftoverReport> {
    const labels = runnerLabels(this.identity);
    const containers = await this.engine.containerList({ labels, all: true });
    await Promise.all(containers.map((container) => this.engine.containerRemove(container.id, { force: true, volumes: true })));
    const networks = await this.engine.networkList({ labels });
    for (const network of networks) await this.engine.networkRemove(network.id);
    removeLeftoverCgroups(this.cgroupPrefix);
    return { containers: containers.length, networks: networks.length };
  }

  close(): void {
    this.engine.close();
  }
}
