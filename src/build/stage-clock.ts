// Records a job's stage changes and how long each stage took.
import type { BuildStage, StageTiming } from '../job/result.ts';

export class StageClock {
  private readonly timings: StageTiming[] = [];
  private current: { stage: BuildStage; since: number } | undefined;

  constructor(private readonly onStage: (stage: BuildStage) => void) {}

  enter(stage: BuildStage): void {
    this.close();
    this.current = { stage, since: performance.now() };
    this.onStage(stage);
  }

  /** Ends the current stage; returns all timings so far. */
  close(): StageTiming[] {
    if (this.current !== undefined) {
      this.timings.push({ stage: this.current.stage, durationSeconds: (performance.now() - this.current.since) / 1000 });
      this.current = undefined;
    }
    return [...this.timings];
  }
}
