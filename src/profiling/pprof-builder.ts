// Builds a pprof protobuf profile from JavaScript stacks: deduplicates
// strings, functions and locations, then encodes and gzips it as
// `go tool pprof` expects.
import { gzipSync } from 'node:zlib';
import { Function as PprofFunction, Location, Mapping, Profile, Sample, StringTable, ValueType } from 'pprof-format';
import { runtime } from '../runtime/runtime.ts';
import type { CallFrame } from './inspector.ts';

export interface SampleType {
  readonly type: string;
  readonly unit: string;
}

export interface ProfileShape {
  readonly sampleTypes: readonly SampleType[];
  readonly periodType: SampleType;
  readonly period: number;
  /** Index into sampleTypes shown by default. */
  readonly defaultSampleType: number;
  /** When the profile starts, Unix milliseconds. */
  readonly startedAtMs: number;
  readonly durationMs: number;
  readonly comments?: readonly string[];
}

/** A frame's display name: V8 leaves anonymous functions unnamed. */
export function frameName(frame: CallFrame): string {
  return frame.functionName || '(anonymous)';
}

/** file:// URLs become paths, which is what pprof's -list and -lines show. */
export function frameFile(frame: CallFrame): string {
  return frame.url.startsWith('file://') ? decodeURIComponent(frame.url.slice('file://'.length)) : frame.url;
}

const MAPPING_ID = 1;

export class PprofBuilder {
  private readonly strings = new StringTable();
  private readonly functions = new Map<string, PprofFunction>();
  private readonly locations = new Map<string, Location>();
  private readonly samples: Sample[] = [];

  constructor(private readonly shape: ProfileShape) {}

  private functionId(frame: CallFrame): number {
    const name = frameName(frame);
    const file = frameFile(frame);
    const startLine = frame.lineNumber + 1;
    const key = `${name}\u0000${file}\u0000${startLine}`;
    let fn = this.functions.get(key);
    if (!fn) {
      fn = new PprofFunction({
        id: this.functions.size + 1,
        name: this.strings.dedup(name),
        systemName: this.strings.dedup(name),
        filename: this.strings.dedup(file),
        startLine: Math.max(startLine, 0),
      });
      this.functions.set(key, fn);
    }
    return Number(fn.id);
  }

  /** The location of a frame at a line (1-based; the function's own line when the profiler has no finer one). */
  locationId(frame: CallFrame, line = frame.lineNumber + 1): number {
    const functionId = this.functionId(frame);
    const key = `${functionId}:${line}`;
    let location = this.locations.get(key);
    if (!location) {
      location = new Location({ id: this.locations.size + 1, mappingId: MAPPING_ID, line: [{ functionId, line: Math.max(line, 0) }] });
      this.locations.set(key, location);
    }
    return Number(location.id);
  }

  /** Adds a sample: `stack` is leaf first, as pprof wants; one value per sample type. */
  addSample(stack: readonly number[], values: readonly number[]): void {
    this.samples.push(new Sample({ locationId: [...stack], value: values.map((v) => Math.round(v)) }));
  }

  get sampleCount(): number {
    return this.samples.length;
  }

  /** The gzipped protobuf. */
  encode(): Uint8Array {
    const valueType = (t: SampleType): ValueType => new ValueType({ type: this.strings.dedup(t.type), unit: this.strings.dedup(t.unit) });
    const profile = new Profile({
      sampleType: this.shape.sampleTypes.map(valueType),
      periodType: valueType(this.shape.periodType),
      period: Math.round(this.shape.period),
      defaultSampleType: this.strings.dedup(this.shape.sampleTypes[this.shape.defaultSampleType]!.type),
      // Unix nanoseconds exceed 2^53: compute them as a bigint.
      timeNanos: BigInt(Math.round(this.shape.startedAtMs)) * 1_000_000n,
      durationNanos: Math.round(this.shape.durationMs * 1e6),
      comment: (this.shape.comments ?? []).map((c) => this.strings.dedup(c)),
      // One mapping that says names, files and lines are already there, so
      // pprof does not try to symbolize addresses (there are none).
      mapping: [
        new Mapping({
          id: MAPPING_ID,
          filename: this.strings.dedup(`runner-${runtime.name}-${runtime.version}`),
          hasFunctions: true,
          hasFilenames: true,
          hasLineNumbers: true,
        }),
      ],
      sample: this.samples,
      location: [...this.locations.values()],
      function: [...this.functions.values()],
      stringTable: this.strings,
    });
    return gzipSync(profile.encode());
  }
}
