// The text of --help for each command.

export const MAIN_HELP = `runner - a CI job agent with an embedded Prometheus metrics server

Usage:
  runner run [flags]                start the agent and run until stopped
  runner submit [flags] JOB.toml... queue jobs in a runner's local queue
  runner list [flags]               show the jobs pending or running in a local queue
  runner cancel [flags] ID...       remove pending jobs from a local queue
  runner verify [flags]             check each coordinator runner's token
  runner --version                  print name, version, revision and runtime
  runner --help                     show this help

Run 'runner COMMAND --help' for the flags of a command.
`;

export const RUN_HELP = `Usage: runner run [flags]

Starts the agent and runs until stopped by a signal. It takes jobs from the
local queue of each [[runners]] entry (runner submit puts them there) or from
its GitLab coordinator (url). Without a config file it serves one runner,
"local", with the queue ./queue and the shell executor; the metrics server is
off unless --metrics-server or metrics_server sets its address.

Flags:
  -c, --config FILE
        config.toml to read (default: ./config.toml if it exists,
        else the built-in defaults)
      --metrics-server [HOST][:PORT]
        address of the metrics server (/metrics, /health/ready,
        /debug/jobs/list, /debug/pprof/); overrides metrics_server in the config file.
        The port defaults to 9252 and may be a service name (http);
        ":9252" listens on every interface; "" disables the server
      --listen-address [HOST][:PORT]
        the same as --metrics-server (GitLab Runner's newer name)
  -d, --working-directory DIR
        directory the agent works in (default: the current directory)
      --no-pprof
        no /debug/pprof profiles and no always-on heap sampling
        (the same as pprof = false in the config file)
      --web-config-file FILE
        the exporter toolkit's web config (Prometheus' --web.config.file):
        TLS, client certificates and basic auth for the metrics server;
        overrides web_config_file in the config file. Re-read on SIGHUP
        and when it or a file it names changes
  -h, --help
        show this help

Signals:
  SIGINT, SIGTERM  cancel the running jobs (after_script still runs), then exit;
                   a second one exits at once, killing the jobs
  SIGQUIT          take no new jobs, exit when the running jobs have finished
  SIGHUP           re-read config.toml (runners added, changed or removed)

Exit codes: 0 stopped by a signal, 1 the runner failed (the port is in use,
a stop had to be forced), 2 bad usage or an invalid config file.
`;

const QUEUE_FLAGS = `  -c, --config FILE
        config.toml to read (default: ./config.toml if it exists,
        else the built-in defaults)
  -r, --runner NAME
        the [[runners]] entry whose queue_dir to use (default: the first)
  -d, --working-directory DIR
        directory a relative queue_dir is resolved against, as for
        'runner run' (default: the current directory)
`;

const HELP_FLAG = `  -h, --help
        show this help
`;

export const SUBMIT_HELP = `Usage: runner submit [flags] JOB.toml...

Validates each job file and queues it in a runner's local queue directory,
then prints each job's id on its own line. If any file is invalid, nothing
is queued. A job file is TOML:

  name = "unit-tests"
  script = ["npm ci", "npm test"]
  before_script = ["echo setup"]      # optional
  after_script = ["echo cleanup"]     # optional
  timeout = "10m"                     # optional
  [variables]
  GREETING = "hello"
  API_KEY = { value = "s3cretvalue", masked = true }

Flags:
${QUEUE_FLAGS}  -w, --wait
        after queueing, print each job's log to stdout as it runs, then a
        one-line summary per job to stderr. A job that really waits gets
        one line naming its queue: after 2 s if no live runner serves it,
        else once every runner serving it has polled the queue and left
        the job pending, or has not polled for longer than check_interval
        explains. Ctrl-C stops waiting and leaves the jobs queued or
        running (exit 130); the line it prints names the 'runner cancel'
        command, with the flags that chose the queue, that removes them
${HELP_FLAG}
Exit codes: 0 queued (with --wait: every job succeeded), 1 a job did not
succeed or the queue could not be written, 2 bad usage or an invalid job file.
`;

export const VERIFY_HELP = `Usage: runner verify [flags]

Asks the coordinator of each [[runners]] entry that has a url whether its
token is valid (POST /api/v4/runners/verify) and prints one line per runner:
"valid", "INVALID" (the token was rejected) or "ERROR" (no answer).

Flags:
  -c, --config FILE
        config.toml to read (default: ./config.toml if it exists)
  -h, --help
        show this help

Exit codes: 0 every token is valid, 1 a token is invalid or a coordinator
could not be asked, 2 bad usage or an invalid config file.
`;

export const LIST_HELP = `Usage: runner list [flags]

Prints the jobs of a runner's local queue that have not ended, one a line:
ID, STATE (running, recovering: its runner died and it is being finished as
failed, or pending), CLAIMED BY (the runner process running it), AGE (since
it was submitted) and NAME; running jobs first, then pending ones, oldest
first. Then, on stderr, the queue directory and the runner processes that
serve it, or that none does. Ended jobs' results are in its done/ directory.

Flags:
${QUEUE_FLAGS}${HELP_FLAG}
Exit codes: 0 listed, 2 bad usage or an invalid config file.
`;

export const CANCEL_HELP = `Usage: runner cancel [flags] ID...

Removes each pending job (as 'runner submit' and 'runner list' print its id)
from a runner's local queue and records it as canceled, so that a
'runner submit --wait' following it ends. A job that a runner has already
started cannot be canceled through the local queue: stop that runner
(SIGINT or SIGTERM cancel its jobs) or wait for the job to end.

Flags:
${QUEUE_FLAGS}${HELP_FLAG}
Exit codes: 0 every job was canceled, 1 a job could not be (it is running,
has ended or does not exist; one line each on stderr), 2 bad usage or an
invalid config file.
`;
