// The agent owns the runner's state: its configuration, its lifecycle and the
// jobs it runs. Telemetry and the debug routes read it through AgentView only.
import type { Config } from '../config/types.ts';

export type AgentState = 'starting' | 'running' | 'stopping' | 'stopped';

/** A running job as the debug job list and the build-state metrics see it. */
export interface JobView {
  readonly id: string;
  readonly name: string;
  readonly runner: string;
  /** The job's address at its coordinator, or its queue file for local jobs. */
  readonly url: string;
  readonly state: string;
  readonly stage: string;
  readonly executorStage: string;
  /** Milliseconds since the Unix epoch. */
  readonly startedAt: number;
  readonly pid: number | undefined;
}

export interface AgentView {
  readonly config: Config;
  readonly state: AgentState;
  /** True once the agent has started and until it begins to stop. */
  isReady(): boolean;
  runningJobs(): readonly JobView[];
}

export class Agent implements AgentView {
  private currentState: AgentState = 'starting';
  private readonly jobs = new Map<string, JobView>();

  constructor(private currentConfig: Config) {}

  get config(): Config {
    return this.currentConfig;
  }

  get state(): AgentState {
    return this.currentState;
  }

  isReady(): boolean {
    return this.currentState === 'running';
  }

  runningJobs(): readonly JobView[] {
    return [...this.jobs.values()];
  }

  start(): void {
    if (this.currentState !== 'starting') throw new Error(`agent cannot start from state ${this.currentState}`);
    this.currentState = 'running';
  }

  /** Stops taking work. Jobs are not yet run by this version, so there is nothing to drain. */
  async stop(): Promise<void> {
    this.currentState = 'stopping';
    this.currentState = 'stopped';
  }
}
