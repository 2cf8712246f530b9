// The web config's loads, as config.toml's are counted
// (ci_runner_configuration_*): a certificate rotation that failed shows as
// ci_runner_web_config_last_load_successful 0 while the old one is served.
import type { Meter } from '@opentelemetry/api';

export interface WebConfigLoads {
  /** Successful loads, the first one included. */
  readonly loads: number;
  /** Reloads that failed and left the previous web config in force. */
  readonly failures: number;
  readonly lastLoadSuccessful: boolean;
}

export function observeWebConfigLoads(meter: Meter, status: WebConfigLoads): void {
  const loaded = meter.createObservableCounter('ci_runner_web_config_loaded_total', {
    description: 'Web config file loads (web_config_file), the first one included.',
  });
  const failed = meter.createObservableCounter('ci_runner_web_config_loading_error_total', {
    description: 'Web config file reloads that failed and left the previous web config in force.',
  });
  const last = meter.createObservableGauge('ci_runner_web_config_last_load_successful', {
    description: 'Whether the latest web config load succeeded (1) or failed and the previous web config is still in force (0).',
  });
  meter.addBatchObservableCallback((result) => {
    result.observe(loaded, status.loads);
    result.observe(failed, status.failures);
    result.observe(last, status.lastLoadSuccessful ? 1 : 0);
  }, [loaded, failed, last]);
}
