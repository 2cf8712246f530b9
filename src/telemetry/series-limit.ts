/**
 * Series kept per metric before the SDK folds the rest into one
 * `otel_metric_overflow="true"` series. Our widest metric is a per-runner,
 * per-stage one (runners x about 12 stages x a few states): 4000 leaves room
 * for some 100 runners while a runaway label still costs at most a few MiB
 * and a scrape of tens of milliseconds. Every reader (the scrapes', the OTLP
 * push's) sets it: the SDK keeps each reader's series apart.
 */
export const SERIES_LIMIT_PER_METRIC = 4000;
