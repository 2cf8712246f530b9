// The text of --help for each command.

export const MAIN_HELP = `runner - a CI job agent with an embedded Prometheus metrics server

Usage:
  runner run [flags]    start the agent and run until stopped
  runner --version      print name, version, revision and runtime
  runner --help         show this help

Run 'runner run --help' for the flags of run.
`;

export const RUN_HELP = `Usage: runner run [flags]

Starts the agent and runs until SIGINT or SIGTERM (a clean stop, exit 0).

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
  -h, --help
        show this help
`;
