// The Docker Engine API client the docker executor needs: images, containers
// (create, attach, start, wait, kill, logs, stats, remove), networks and
// volumes. It speaks HTTP to the daemon itself (engine-http.ts) and never runs
// the docker CLI. What it returns is read defensively from the daemon's JSON
// and holds only the fields the runner uses.
import { Buffer } from 'node:buffer';
import { Demultiplexer, MultiplexedStreamError, type OutputStream } from './multiplexed-stream.ts';
import {
  asBoolean,
  asNumber,
  asRecord,
  asString,
  asStringArray,
  asStringRecord,
  DockerWire,
  LineSplitter,
  parseJson,
  type WireRequest,
} from './engine-http.ts';
import { type DockerEndpoint, parseDockerHost, tlsVerifyFromEnvironment } from './docker-host.ts';

export { API_VERSION, DockerApiError, type DockerErrorKind } from './engine-http.ts';
export type { OutputStream } from './multiplexed-stream.ts';

export interface DockerVersion {
  readonly apiVersion: string;
  readonly version: string;
  readonly os: string;
  readonly arch: string;
}

export interface DockerInfo {
  readonly cgroupDriver: string;
  readonly cgroupVersion: '1' | '2';
  /** The daemon's host name. */
  readonly name: string;
  readonly serverVersion: string;
}

export interface ImageInfo {
  readonly id: string;
  readonly repoDigests: string[];
  /** The TCP ports the image EXPOSEs, sorted (GitLab waits for a service's lowest one). */
  readonly exposedTcpPorts: number[];
  readonly entrypoint: string[] | null;
  readonly cmd: string[] | null;
  readonly os: string;
  readonly architecture: string;
}

export interface PullProgress {
  /** `Pulling fs layer`, `Downloading`, `Status: Downloaded newer image for ...` */
  readonly status: string;
  /** The layer's id, when the line is about one. */
  readonly id?: string | undefined;
  /** The progress bar the docker CLI would draw. */
  readonly progress?: string | undefined;
}

/** The part of Docker's HostConfig the runner sets. */
export interface HostConfig {
  readonly Binds?: string[];
  readonly NetworkMode?: string;
  readonly Privileged?: boolean;
  /** Bytes. */
  readonly Memory?: number;
  /** CPUs x 1e9. */
  readonly NanoCpus?: number;
  readonly CgroupParent?: string;
  readonly Init?: boolean;
  readonly AutoRemove?: boolean;
  readonly SecurityOpt?: string[];
  readonly CapAdd?: string[];
  readonly CapDrop?: string[];
  /** Mount point -> mount options. */
  readonly Tmpfs?: Record<string, string>;
}

/** The part of Docker's container create config the runner sets, in the API's own names. */
export interface ContainerCreateBody {
  readonly Image: string;
  readonly Cmd?: string[];
  readonly Entrypoint?: string[];
  /** `NAME=value` items. */
  readonly Env?: string[];
  readonly Labels?: Record<string, string>;
  readonly WorkingDir?: string;
  readonly User?: string;
  readonly Hostname?: string;
  /** `"6379/tcp": {}` items. */
  readonly ExposedPorts?: Record<string, Record<string, never>>;
  /** Never a TTY: the attach and logs streams are read as multiplexed streams. */
  readonly Tty?: false;
  /** No stdin: scripts are passed as commands, not typed in. */
  readonly OpenStdin?: false;
  readonly AttachStdout?: boolean;
  readonly AttachStderr?: boolean;
  readonly HostConfig?: HostConfig;
  readonly NetworkingConfig?: { readonly EndpointsConfig: Record<string, { readonly Aliases?: string[] }> };
}

export interface CreatedContainer {
  readonly id: string;
  readonly warnings: string[];
}

export interface ContainerInfo {
  readonly id: string;
  /** Without Docker's leading slash. */
  readonly name: string;
  readonly state: {
    /** created, running, paused, restarting, removing, exited, dead */
    readonly status: string;
    readonly running: boolean;
    readonly exitCode: number;
    /** 0 when it does not run. */
    readonly pid: number;
    readonly oomKilled: boolean;
  };
  /** Network name -> the container's IP address on it. */
  readonly networkIps: Record<string, string>;
  readonly labels: Record<string, string>;
}

export interface ContainerSummary {
  readonly id: string;
  /** Without Docker's leading slashes. */
  readonly names: string[];
  readonly labels: Record<string, string>;
  readonly state: string;
}

export interface ContainerStats {
  /** CPU time the container used, all CPUs together, in nanoseconds. */
  readonly cpuTotalNs: number;
  readonly memoryUsage: number;
  /** The peak memory use; cgroup v1 only (undefined under cgroup v2). */
  readonly memoryMaxUsage?: number | undefined;
}

export interface NetworkSummary {
  readonly id: string;
  readonly name: string;
  readonly labels: Record<string, string>;
}

export interface VolumeSummary {
  readonly name: string;
  readonly labels: Record<string, string>;
}

/** A label filter: `key: value` matches that value, `key: true` any value. */
export type LabelFilter = Readonly<Record<string, string | true>>;

/** A container's output being read, from an attach made before it started. */
export interface AttachedContainer {
  /**
   * Resolves when the daemon ends the stream (the container stopped) or close() is called; rejects
   * when the connection breaks, the stream is corrupt, the signal aborts, or onOutput throws.
   */
  readonly done: Promise<void>;
  /** Stops reading: the container runs on. */
  close(): void;
}

export interface AttachOptions {
  /** Receives stdout and stderr payloads in the order the container wrote them; a payload is valid only during the call. */
  readonly onOutput: (payload: Uint8Array, stream: OutputStream) => void;
  /** The container was created with a TTY: its stream is raw, all of it stdout. */
  readonly tty?: boolean;
  readonly signal?: AbortSignal | undefined;
}

export type WaitCondition = 'next-exit' | 'not-running' | 'removed';

/** A wait the daemon has registered. */
export interface PendingWait {
  /** The container's exit code once the condition is met. */
  readonly exitCode: Promise<number>;
}

/** The image reference split as the API's pull takes it: `fromImage` and `tag` (a tag or a digest). */
export function splitImageReference(reference: string): { readonly name: string; readonly tag: string } {
  const invalid = (): Error => new Error(`invalid image reference ${JSON.stringify(reference)}: expected NAME[:TAG][@DIGEST]`);
  const at = reference.indexOf('@');
  const named = at === -1 ? reference : reference.slice(0, at);
  // A colon after the last slash starts a tag; one before it is a registry's port (localhost:5000/a/b).
  const colon = named.lastIndexOf(':');
  const hasTag = colon > named.lastIndexOf('/');
  const name = hasTag ? named.slice(0, colon) : named;
  // A digest wins over a tag, as it does for the docker CLI.
  const tag = at !== -1 ? reference.slice(at + 1) : hasTag ? named.slice(colon + 1) : 'latest';
  if (name === '' || tag === '' || /\s/.test(reference)) throw invalid();
  return { name, tag };
}

/** One path segment: ids and names encoded, an image's slashes, colon and @ kept readable. */
function segment(value: string): string {
  return encodeURIComponent(value).replace(/%2F/gi, '/').replace(/%3A/gi, ':').replace(/%40/gi, '@');
}

/** The API's `filters` parameter for labels: `{"label": ["k=v", "k"]}`. */
function labelFilters(labels: LabelFilter | undefined): string | undefined {
  const items = Object.entries(labels ?? {}).map(([key, value]) => (value === true ? key : `${key}=${value}`));
  return items.length === 0 ? undefined : JSON.stringify({ label: items });
}

/** How long a pull may take to answer at all: the daemon first asks the registry. */
const PULL_HEADERS_TIMEOUT_MS = 5 * 60_000;

/** A wait's answer is `{"Error": null, "StatusCode": 0}`. */
const MAX_WAIT_ANSWER = 64 * 1024;

/** How much of a container's log containerLogs keeps by default: its last 1 MiB. */
const DEFAULT_LOG_BYTES = 1024 * 1024;

export class DockerEngine {
  readonly endpoint: DockerEndpoint;
  private readonly wire: DockerWire;

  /**
   * `host`: unix:///path, tcp://host:port or http://host:port (DOCKER_HOST's forms without TLS).
   * `tlsVerify` (default: DOCKER_TLS_VERIFY is set) refuses a tcp:// host, since TLS is not supported.
   */
  constructor(host: string, options: { readonly tlsVerify?: boolean } = {}) {
    this.endpoint = parseDockerHost(host, { tlsVerify: options.tlsVerify ?? tlsVerifyFromEnvironment() });
    this.wire = new DockerWire(this.endpoint);
  }

  /** Ends every connection to the daemon, attached streams included. */
  close(): void {
    this.wire.close();
  }

  async ping(signal?: AbortSignal): Promise<void> {
    await this.wire.call({ method: 'GET', path: '/_ping', signal });
  }

  async version(signal?: AbortSignal): Promise<DockerVersion> {
    const v = asRecord(await this.json({ method: 'GET', path: '/version', signal }));
    return { apiVersion: asString(v['ApiVersion']), version: asString(v['Version']), os: asString(v['Os']), arch: asString(v['Arch']) };
  }

  async info(signal?: AbortSignal): Promise<DockerInfo> {
    const info = asRecord(await this.json({ method: 'GET', path: '/info', signal }));
    return {
      cgroupDriver: asString(info['CgroupDriver']),
      // Daemons before 20.10 do not say: they know only cgroup v1.
      cgroupVersion: info['CgroupVersion'] === '2' ? '2' : '1',
      name: asString(info['Name']),
      serverVersion: asString(info['ServerVersion']),
    };
  }

  /** The image as the daemon has it; undefined when it has none by that reference. */
  async imageInspect(reference: string, signal?: AbortSignal): Promise<ImageInfo | undefined> {
    const image = await this.json({ method: 'GET', path: `/images/${segment(reference)}/json`, accept: [404], signal });
    if (image === undefined) return undefined;
    const record = asRecord(image);
    const config = asRecord(record['Config']);
    const exposedTcpPorts = Object.keys(asRecord(config['ExposedPorts']))
      .map((key) => /^(\d+)\/tcp$/.exec(key)?.[1])
      .filter((port): port is string => port !== undefined)
      .map(Number)
      .sort((a, b) => a - b);
    return {
      id: asString(record['Id']),
      repoDigests: asStringArray(record['RepoDigests']) ?? [],
      exposedTcpPorts,
      entrypoint: asStringArray(config['Entrypoint']),
      cmd: asStringArray(config['Cmd']),
      os: asString(record['Os']),
      architecture: asString(record['Architecture']),
    };
  }

  /**
   * Pulls an image (a missing tag means latest). The daemon answers with a stream of JSON progress
   * lines and reports a failure inside it, after a 200: that line rejects the pull with its message.
   */
  async imagePull(
    reference: string,
    options: { readonly platform?: string; readonly onProgress?: (progress: PullProgress) => void; readonly signal?: AbortSignal | undefined } = {},
  ): Promise<void> {
    const { name, tag } = splitImageReference(reference);
    const request: WireRequest = {
      method: 'POST',
      path: '/images/create',
      query: { fromImage: name, tag, platform: options.platform },
      context: `pull ${reference}`,
      signal: options.signal,
    };
    // The daemon answers once the registry has: give a slow one time, but not forever.
    const response = await this.wire.open(request, { headersTimeoutMs: PULL_HEADERS_TIMEOUT_MS });
    const lines = new LineSplitter((line) => {
      let event: Record<string, unknown>;
      try {
        event = asRecord(JSON.parse(line));
      } catch (error) {
        throw this.wire.error(request, 'response', `a progress line is not JSON: ${JSON.stringify(line.slice(0, 80))}`, { cause: error });
      }
      const failure = asString(asRecord(event['errorDetail'])['message']) || asString(event['error']);
      if (failure !== '') throw this.wire.error(request, 'stream', failure, { status: response.statusCode ?? 0, daemonMessage: failure });
      const id = asString(event['id']) || undefined;
      const progress = asString(event['progress']) || undefined;
      options.onProgress?.({ status: asString(event['status']), id, progress });
    }, (max) => this.wire.error(request, 'response', `a progress line longer than ${max} bytes`));
    await this.wire.consume(request, response, (chunk) => lines.write(chunk), () => lines.end()).done;
  }

  /** Creates a container (not started); the daemon's warnings (a memory limit it cannot apply, ...) come back with its id. */
  async containerCreate(name: string, body: ContainerCreateBody, signal?: AbortSignal): Promise<CreatedContainer> {
    const created = asRecord(await this.json({ method: 'POST', path: '/containers/create', query: { name }, body, signal }));
    return { id: asString(created['Id']), warnings: asStringArray(created['Warnings']) ?? [] };
  }

  /** Starts a container; one already running is left as it is. */
  async containerStart(id: string, signal?: AbortSignal): Promise<void> {
    await this.wire.call({ method: 'POST', path: `/containers/${segment(id)}/start`, accept: [304], signal });
  }

  /** Sends a signal to a container's main process; false when it was not running (stopped or gone): the kill had nothing to do. */
  async containerKill(id: string, killSignal: string = 'SIGKILL', signal?: AbortSignal): Promise<boolean> {
    const { status } = await this.wire.call({
      method: 'POST',
      path: `/containers/${segment(id)}/kill`,
      query: { signal: killSignal },
      accept: [404, 409],
      signal,
    });
    return status < 300;
  }

  /** Removes a container; one that is gone, or being removed already (AutoRemove), is not an error. */
  async containerRemove(id: string, options: { readonly force?: boolean; readonly volumes?: boolean; readonly signal?: AbortSignal } = {}): Promise<void> {
    const request: WireRequest = {
      method: 'DELETE',
      path: `/containers/${segment(id)}`,
      query: { force: options.force ?? false, v: options.volumes ?? false },
      accept: [404, 409],
      signal: options.signal,
    };
    const { status, body } = await this.wire.call(request);
    if (status === 409 && !/already in progress/.test(body.toString('utf8'))) {
      throw this.wire.statusError(request, status, body);
    }
  }

  /** The container's state, networks and labels; undefined when there is no such container. */
  async containerInspect(id: string, signal?: AbortSignal): Promise<ContainerInfo | undefined> {
    const container = await this.json({ method: 'GET', path: `/containers/${segment(id)}/json`, accept: [404], signal });
    if (container === undefined) return undefined;
    const record = asRecord(container);
    const state = asRecord(record['State']);
    const networkIps: Record<string, string> = {};
    for (const [network, settings] of Object.entries(asRecord(asRecord(record['NetworkSettings'])['Networks']))) {
      const ip = asString(asRecord(settings)['IPAddress']);
      if (ip !== '') networkIps[network] = ip;
    }
    return {
      id: asString(record['Id']),
      name: asString(record['Name']).replace(/^\//, ''),
      state: {
        status: asString(state['Status']),
        running: asBoolean(state['Running']),
        exitCode: asNumber(state['ExitCode']),
        pid: asNumber(state['Pid']),
        oomKilled: asBoolean(state['OOMKilled']),
      },
      networkIps,
      labels: asStringRecord(asRecord(record['Config'])['Labels']),
    };
  }

  /**
   * Waits for the condition and returns the container's exit code (128 + n when signal n ended it).
   * A long poll, with no deadline: only the signal ends it early.
   */
  async containerWait(id: string, condition: WaitCondition = 'not-running', signal?: AbortSignal): Promise<number> {
    return (await this.beginContainerWait(id, condition, signal)).exitCode;
  }

  /**
   * Starts a wait and resolves once the daemon has registered it (it sends the answer's headers
   * then, and the exit code when the condition is met): a wait for 'next-exit' begun before the
   * container starts cannot miss a quick exit. `exitCode` has a handler attached, so that it may
   * be left unawaited (a start that failed) without an unhandled rejection.
   */
  async beginContainerWait(id: string, condition: WaitCondition, signal?: AbortSignal): Promise<PendingWait> {
    const request: WireRequest = { method: 'POST', path: `/containers/${segment(id)}/wait`, query: { condition }, signal };
    const response = await this.wire.open(request);
    const parts: Buffer[] = [];
    let size = 0;
    const collect = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > MAX_WAIT_ANSWER) throw this.wire.error(request, 'response', 'answer too large');
      parts.push(chunk);
    };
    const exitCode = this.wire.consume(request, response, collect).done.then(() => {
      const result = asRecord(parseJson(this.wire, request, Buffer.concat(parts)));
      const failure = asString(asRecord(result['Error'])['Message']);
      if (failure !== '') throw this.wire.error(request, 'stream', failure, { status: 200, daemonMessage: failure });
      return asNumber(result['StatusCode']);
    });
    exitCode.catch(() => undefined);
    return { exitCode };
  }

  /**
   * Attaches to a container's stdout and stderr (no stdin) - before it starts, so that nothing it
   * writes is missed: resolves once the daemon has accepted the attach (it joins the attach to the
   * container's output before it answers, moby's daemon/attach.go: from then on nothing written is
   * lost, and the container may be started). The daemon takes the
   * connection over and answers `200 OK` without Upgrade headers asked for; node:http reads that as
   * a body that lasts until the container stops, on Node, Bun and Deno. API 1.41 labels the body
   * raw-stream even when it is multiplexed (1.42 fixed the label), so the container's TTY setting,
   * not the content type, decides how it is read.
   */
  async containerAttach(id: string, options: AttachOptions): Promise<AttachedContainer> {
    const request: WireRequest = {
      method: 'POST',
      path: `/containers/${segment(id)}/attach`,
      query: { stream: true, stdout: true, stderr: true },
      signal: options.signal,
    };
    const response = await this.wire.open(request, { hijacked: true });
    const read = this.outputReader(request, options.tty === true, options.onOutput);
    const stream = this.wire.consume(request, response, read.write, read.end);
    stream.done.catch(() => undefined); // the caller may close() without awaiting done
    return { done: stream.done, close: stream.stop };
  }

  /** The container's last `tail` lines of output, stdout and stderr in order, at most `maxBytes` (the end is kept). */
  async containerLogs(
    id: string,
    options: { readonly tail: number; readonly maxBytes?: number; readonly tty?: boolean; readonly signal?: AbortSignal | undefined },
  ): Promise<string> {
    const request: WireRequest = {
      method: 'GET',
      path: `/containers/${segment(id)}/logs`,
      query: { stdout: true, stderr: true, tail: options.tail },
      signal: options.signal,
    };
    const max = options.maxBytes ?? DEFAULT_LOG_BYTES;
    const kept: Uint8Array[] = [];
    let size = 0;
    const keep = (payload: Uint8Array): void => {
      kept.push(payload.slice()); // a copy: the payload is a view of the stream's chunk
      size += payload.length;
      while (kept.length > 1 && size - kept[0]!.length >= max) size -= kept.shift()!.length;
    };
    const response = await this.wire.open(request);
    const read = this.outputReader(request, options.tty === true, keep);
    await this.wire.consume(request, response, read.write, read.end).done;
    const all = new Uint8Array(size);
    let at = 0;
    for (const part of kept) {
      all.set(part, at);
      at += part.length;
    }
    return new TextDecoder().decode(all.subarray(Math.max(0, size - max)));
  }

  /** One sample of a container's resource use (one-shot: no second sample to compute a CPU rate from). */
  async containerStats(id: string, signal?: AbortSignal): Promise<ContainerStats> {
    const stats = asRecord(
      await this.json({ method: 'GET', path: `/containers/${segment(id)}/stats`, query: { stream: false, 'one-shot': true }, signal }),
    );
    const memory = asRecord(stats['memory_stats']);
    const maxUsage = memory['max_usage'];
    return {
      cpuTotalNs: asNumber(asRecord(asRecord(stats['cpu_stats'])['cpu_usage'])['total_usage']),
      memoryUsage: asNumber(memory['usage']),
      memoryMaxUsage: typeof maxUsage === 'number' ? maxUsage : undefined,
    };
  }

  async containerList(options: { readonly labels?: LabelFilter; readonly all?: boolean; readonly signal?: AbortSignal } = {}): Promise<ContainerSummary[]> {
    const query = { all: options.all ?? false, filters: labelFilters(options.labels) };
    const list = await this.json({ method: 'GET', path: '/containers/json', query, signal: options.signal });
    return (Array.isArray(list) ? list : []).map((item) => {
      const container = asRecord(item);
      return {
        id: asString(container['Id']),
        names: (asStringArray(container['Names']) ?? []).map((name) => name.replace(/^\//, '')),
        labels: asStringRecord(container['Labels']),
        state: asString(container['State']),
      };
    });
  }

  /** Creates a bridge network; a name in use is an error (CheckDuplicate). */
  async networkCreate(name: string, labels: Readonly<Record<string, string>> = {}, signal?: AbortSignal): Promise<string> {
    const body = { Name: name, CheckDuplicate: true, Driver: 'bridge', Labels: labels };
    return asString(asRecord(await this.json({ method: 'POST', path: '/networks/create', body, signal }))['Id']);
  }

  /** Removes a network; one that is gone is not an error. */
  async networkRemove(id: string, signal?: AbortSignal): Promise<void> {
    await this.wire.call({ method: 'DELETE', path: `/networks/${segment(id)}`, accept: [404], signal });
  }

  async networkList(options: { readonly labels?: LabelFilter; readonly signal?: AbortSignal } = {}): Promise<NetworkSummary[]> {
    const list = await this.json({ method: 'GET', path: '/networks', query: { filters: labelFilters(options.labels) }, signal: options.signal });
    return (Array.isArray(list) ? list : []).map((item) => {
      const network = asRecord(item);
      return { id: asString(network['Id']), name: asString(network['Name']), labels: asStringRecord(network['Labels']) };
    });
  }

  /** Creates a named local volume (a cache volume); creating one that exists returns it unchanged. */
  async volumeCreate(name: string, labels: Readonly<Record<string, string>> = {}, signal?: AbortSignal): Promise<string> {
    return asString(asRecord(await this.json({ method: 'POST', path: '/volumes/create', body: { Name: name, Labels: labels }, signal }))['Name']);
  }

  async volumeList(options: { readonly labels?: LabelFilter; readonly signal?: AbortSignal } = {}): Promise<VolumeSummary[]> {
    const list = asRecord(await this.json({ method: 'GET', path: '/volumes', query: { filters: labelFilters(options.labels) }, signal: options.signal }));
    return (Array.isArray(list['Volumes']) ? list['Volumes'] : []).map((item: unknown) => {
      const volume = asRecord(item);
      return { name: asString(volume['Name']), labels: asStringRecord(volume['Labels']) };
    });
  }

  /** Removes a volume; one that is gone is not an error. `force` removes it even if a container still uses it. */
  async volumeRemove(name: string, force = false, signal?: AbortSignal): Promise<void> {
    await this.wire.call({ method: 'DELETE', path: `/volumes/${segment(name)}`, query: { force }, accept: [404], signal });
  }

  /** A call's JSON answer; undefined for an accepted non-2xx status (a 404 that means "none"). */
  private async json(request: WireRequest): Promise<unknown> {
    const { status, body } = await this.wire.call(request);
    if (status >= 300) return undefined;
    return parseJson(this.wire, request, body);
  }

  /**
   * How a container's output stream is read: raw, all of it stdout, when it has a TTY; otherwise
   * through a demultiplexer. A corrupt stream fails as the daemon's fault.
   */
  private outputReader(
    request: WireRequest,
    tty: boolean,
    onOutput: (payload: Uint8Array, stream: OutputStream) => void,
  ): { write: (chunk: Buffer) => void; end: () => void } {
    if (tty) return { write: (chunk) => onOutput(chunk, 'stdout'), end: () => undefined };
    const demultiplexer = new Demultiplexer(onOutput);
    const guard = (action: () => void): void => {
      try {
        action();
      } catch (error) {
        throw error instanceof MultiplexedStreamError ? this.wire.error(request, 'response', error.message, { cause: error }) : error;
      }
    };
    return { write: (chunk) => guard(() => demultiplexer.write(chunk)), end: () => guard(() => demultiplexer.end()) };
  }
}
