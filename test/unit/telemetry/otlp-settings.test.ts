// The OTLP push settings: the [otel] table, then the OpenTelemetry SDK environment variables as
// the specification defines them, then the defaults; bad values are one-line errors naming them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { OtelConfig } from '../../../src/config/types.ts';
import { shownUrl } from '../../../src/config/otel-config.ts';
import {
  otlpMetricsSettings,
  otlpSettings,
  OtlpSettingsError,
  parseKeyValueList,
  serviceResource,
  spanBatchSettings,
} from '../../../src/telemetry/otlp-settings.ts';
import { versionInfo } from '../../../src/version.ts';

const config = (fields: Partial<OtelConfig>): OtelConfig => ({
  endpoint: undefined,
  metricsEndpoint: undefined,
  tracesEndpoint: undefined,
  protocol: undefined,
  headers: {},
  certificate: undefined,
  timeoutSeconds: undefined,
  metricsIntervalSeconds: undefined,
  serviceName: undefined,
  resourceAttributes: {},
  ...fields,
});

test('nothing asks for a push: none', () => {
  assert.equal(otlpMetricsSettings(undefined, {}), undefined);
  assert.equal(otlpMetricsSettings(config({}), { OTEL_SERVICE_NAME: 'x' }), undefined);
});

test("the environment alone: the base endpoint gets the signal's path, the signal's endpoint is used as is, defaults fill in", () => {
  assert.deepEqual(otlpMetricsSettings(undefined, { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' }), {
    url: 'http://collector:4318/v1/metrics',
    protocol: 'http/protobuf',
    headers: {},
    certificateFile: undefined,
    clientCertificateFile: undefined,
    clientKeyFile: undefined,
    compression: 'none',
    timeoutMs: 10_000,
    intervalMs: 60_000,
    serviceName: 'runner',
    resourceAttributes: {},
  });
  assert.equal(otlpMetricsSettings(undefined, { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318/base/' })?.url, 'http://c:4318/base/v1/metrics');
  assert.equal(
    otlpMetricsSettings(undefined, { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: 'https://m:443/custom' })?.url,
    'https://m:443/custom',
  );
  assert.equal(otlpMetricsSettings(undefined, { OTEL_METRICS_EXPORTER: 'otlp' })?.url, 'http://localhost:4318/v1/metrics');
});

test('per-signal variables win over the general ones; the file wins over both', () => {
  const env = {
    OTEL_EXPORTER_OTLP_ENDPOINT: 'http://env:4318',
    OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
    OTEL_EXPORTER_OTLP_METRICS_PROTOCOL: 'http/json',
    OTEL_EXPORTER_OTLP_HEADERS: 'a=1,b=2',
    OTEL_EXPORTER_OTLP_METRICS_HEADERS: 'b=3',
    OTEL_EXPORTER_OTLP_TIMEOUT: '5000',
    OTEL_EXPORTER_OTLP_METRICS_TIMEOUT: '7000',
    OTEL_EXPORTER_OTLP_CERTIFICATE: '/env/ca.pem',
    OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE: '/env/client.pem',
    OTEL_EXPORTER_OTLP_CLIENT_KEY: '/env/client-key.pem',
    OTEL_EXPORTER_OTLP_METRICS_CLIENT_KEY: '/env/metrics-key.pem',
    OTEL_EXPORTER_OTLP_COMPRESSION: 'none',
    OTEL_EXPORTER_OTLP_METRICS_COMPRESSION: 'gzip',
    OTEL_METRIC_EXPORT_INTERVAL: '30000',
    OTEL_SERVICE_NAME: 'env-name',
    OTEL_RESOURCE_ATTRIBUTES: 'service.name=attr-name,region=eu%2Dwest',
  };
  const fromEnv = otlpMetricsSettings(undefined, env);
  assert.deepEqual(
    { ...fromEnv },
    {
      url: 'http://env:4318/v1/metrics',
      protocol: 'http/json',
      headers: { a: '1', b: '3' },
      certificateFile: '/env/ca.pem',
      clientCertificateFile: '/env/client.pem',
      clientKeyFile: '/env/metrics-key.pem',
      compression: 'gzip',
      timeoutMs: 7000,
      intervalMs: 30_000,
      serviceName: 'env-name',
      resourceAttributes: { 'service.name': 'attr-name', region: 'eu-west' },
    },
  );
  assert.equal(otlpMetricsSettings(undefined, { ...env, OTEL_SERVICE_NAME: '' })?.serviceName, 'attr-name');
  const fromFile = otlpMetricsSettings(
    config({
      endpoint: 'https://file:4318',
      protocol: 'http/protobuf',
      headers: { b: 'file' },
      certificate: '/file/ca.pem',
      timeoutSeconds: 2,
      metricsIntervalSeconds: 15,
      serviceName: 'file-name',
      resourceAttributes: { region: 'us' },
    }),
    env,
  );
  assert.deepEqual({ ...fromFile }, {
    url: 'https://file:4318/v1/metrics',
    protocol: 'http/protobuf',
    headers: { a: '1', b: 'file' },
    certificateFile: '/file/ca.pem',
    clientCertificateFile: '/env/client.pem',
    clientKeyFile: '/env/metrics-key.pem',
    compression: 'gzip',
    timeoutMs: 2000,
    intervalMs: 15_000,
    serviceName: 'file-name',
    resourceAttributes: { 'service.name': 'attr-name', region: 'us' },
  });
  assert.equal(otlpMetricsSettings(config({ endpoint: 'http://a', metricsEndpoint: 'http://b/m' }), env)?.url, 'http://b/m');
});

test('OTEL_SDK_DISABLED and OTEL_METRICS_EXPORTER=none turn an environment push off, not one the file asks for', () => {
  const env = { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://env:4318' };
  assert.equal(otlpMetricsSettings(undefined, { ...env, OTEL_SDK_DISABLED: 'true' }), undefined);
  assert.equal(otlpMetricsSettings(undefined, { ...env, OTEL_METRICS_EXPORTER: 'none' }), undefined);
  assert.equal(otlpMetricsSettings(undefined, { ...env, OTEL_METRICS_EXPORTER: 'prometheus' }), undefined, 'a selector without otlp leaves OTLP out');
  assert.equal(otlpMetricsSettings(undefined, { ...env, OTEL_METRICS_EXPORTER: 'prometheus,otlp' })?.url, 'http://env:4318/v1/metrics');
  assert.equal(otlpMetricsSettings(config({ endpoint: 'http://file' }), { ...env, OTEL_SDK_DISABLED: 'true' })?.url, 'http://file/v1/metrics');
});

test('a push never waits longer than its interval', () => {
  assert.equal(otlpMetricsSettings(config({ endpoint: 'http://c', metricsIntervalSeconds: 1, timeoutSeconds: 30 }), {})?.timeoutMs, 1000);
});

test('bad environment values are one-line errors naming the variable and what was expected', () => {
  const error = (env: Record<string, string>): string => {
    try {
      otlpMetricsSettings(undefined, env);
    } catch (caught) {
      assert.ok(caught instanceof OtlpSettingsError);
      assert.ok(!caught.message.includes('\n'));
      return caught.message;
    }
    return assert.fail('no error');
  };
  const base = { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318' };
  assert.equal(
    error({ ...base, OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' }),
    'OTEL_EXPORTER_OTLP_PROTOCOL: expected http/protobuf or http/json (grpc is not supported), got "grpc"',
  );
  assert.equal(
    error({ OTEL_EXPORTER_OTLP_ENDPOINT: 'c:4318' }),
    'OTEL_EXPORTER_OTLP_ENDPOINT: expected an http:// or https:// URL without credentials (put them in headers) such as "http://collector:4318", got "c:4318"',
  );
  assert.equal(
    error({ ...base, OTEL_METRIC_EXPORT_INTERVAL: '10s' }),
    'OTEL_METRIC_EXPORT_INTERVAL: expected a whole number of milliseconds from 1 to 3600000, got "10s"',
  );
  // Past 2^31 ms a timer would fire at once.
  assert.equal(
    error({ ...base, OTEL_EXPORTER_OTLP_TIMEOUT: '4294967296' }),
    'OTEL_EXPORTER_OTLP_TIMEOUT: expected a whole number of milliseconds from 1 to 3600000, got "4294967296"',
  );
  assert.equal(
    error({ OTEL_EXPORTER_OTLP_ENDPOINT: 'https://user:pw@c:4318' }),
    'OTEL_EXPORTER_OTLP_ENDPOINT: expected an http:// or https:// URL without credentials (put them in headers) such as "http://collector:4318", got "https://c:4318/"',
  );
  assert.equal(
    error({ ...base, OTEL_EXPORTER_OTLP_HEADERS: '=x' }),
    'OTEL_EXPORTER_OTLP_HEADERS: expected key=value pairs separated by commas, got an entry without a key',
  );
  assert.equal(error({ ...base, OTEL_RESOURCE_ATTRIBUTES: 'a=%zz' }), 'OTEL_RESOURCE_ATTRIBUTES: the value of "a" is not valid percent-encoding');
  assert.equal(error({ ...base, OTEL_EXPORTER_OTLP_METRICS_COMPRESSION: 'zstd' }), 'OTEL_EXPORTER_OTLP_METRICS_COMPRESSION: expected gzip or none, got "zstd"');
  assert.equal(
    error({ ...base, OTEL_EXPORTER_OTLP_CLIENT_KEY: '/k.pem' }),
    'OTEL_EXPORTER_OTLP_CLIENT_KEY: expected OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE (or OTEL_EXPORTER_OTLP_METRICS_CLIENT_CERTIFICATE) to be set too: mutual TLS needs the certificate and its key',
  );
});

test('logs show an endpoint without its query or credentials', () => {
  assert.equal(shownUrl('https://c.example:4318/v1/metrics?api_key=s3cret'), 'https://c.example:4318/v1/metrics');
});

test("the file's service.name wins over the environment's; traces have their own path and variables", () => {
  assert.equal(
    otlpMetricsSettings(config({ endpoint: 'http://c', resourceAttributes: { 'service.name': 'file' } }), { OTEL_SERVICE_NAME: 'env' })?.serviceName,
    'file',
  );
  const traces = otlpSettings('traces', undefined, {
    OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318',
    OTEL_EXPORTER_OTLP_TRACES_HEADERS: 'k=v',
    OTEL_BSP_SCHEDULE_DELAY: '250',
  });
  assert.equal(traces?.url, 'http://c:4318/v1/traces');
  assert.deepEqual(traces?.headers, { k: 'v' });
  assert.equal(traces?.intervalMs, 250);
  assert.equal(otlpSettings('traces', config({ endpoint: 'http://a', tracesEndpoint: 'http://b/t' }), {})?.url, 'http://b/t');
});

test('key=value lists: percent-decoded values, spaces around items trimmed, empty items skipped', () => {
  assert.deepEqual(parseKeyValueList('X', ' api-key = a%20b , ,trace=on=off'), { 'api-key': 'a b', trace: 'on=off' });
});

test('a rejected endpoint is named without its query or credentials, even one that does not parse', () => {
  const error = (value: string): string => {
    try {
      otlpMetricsSettings(undefined, { OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: value });
    } catch (caught) {
      return (caught as Error).message;
    }
    return assert.fail('no error');
  };
  assert.match(error('ftp://collector:4318/v1/metrics?api_key=s3cret'), /got "ftp:\/\/collector:4318\/v1\/metrics"$/);
  assert.match(error('http://exa mple:4318/v1/metrics?api_key=s3cret'), /got "http:\/\/exa mple:4318\/v1\/metrics"$/);
  assert.match(error('http://user:s3cret@exa mple/v1/metrics'), /got "http:\/\/exa mple\/v1\/metrics"$/);
  assert.equal(shownUrl('user:s3cret@collector:4318'), 'collector:4318');
  assert.equal(shownUrl(`http://c/${'x'.repeat(300)}`).length, 203);
});

test("the batch span processor's OTEL_BSP_* variables, with the specification's defaults; a batch never larger than the queue", () => {
  assert.deepEqual(spanBatchSettings({}), { scheduledDelayMs: 5000, exportTimeoutMs: 30_000, maxQueueSize: 2048, maxExportBatchSize: 512 });
  assert.deepEqual(
    spanBatchSettings({
      OTEL_BSP_SCHEDULE_DELAY: '200',
      OTEL_BSP_EXPORT_TIMEOUT: '1500',
      OTEL_BSP_MAX_QUEUE_SIZE: '64',
      OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '16',
      // The exporter's request timeout is another setting.
      OTEL_EXPORTER_OTLP_TIMEOUT: '9000',
    }),
    { scheduledDelayMs: 200, exportTimeoutMs: 1500, maxQueueSize: 64, maxExportBatchSize: 16 },
  );
  assert.equal(spanBatchSettings({ OTEL_BSP_MAX_QUEUE_SIZE: '100' }).maxExportBatchSize, 100, 'an unset batch follows a smaller queue');
  const error = (env: Record<string, string>): string => {
    try {
      spanBatchSettings(env);
    } catch (caught) {
      assert.ok(caught instanceof OtlpSettingsError);
      return caught.message;
    }
    return assert.fail('no error');
  };
  assert.equal(
    error({ OTEL_BSP_MAX_QUEUE_SIZE: '10', OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '20' }),
    'OTEL_BSP_MAX_EXPORT_BATCH_SIZE: expected at most the queue size (OTEL_BSP_MAX_QUEUE_SIZE, 10), got "20"',
  );
  assert.equal(error({ OTEL_BSP_MAX_QUEUE_SIZE: '0' }), 'OTEL_BSP_MAX_QUEUE_SIZE: expected a whole number of spans from 1 to 100000, got "0"');
  assert.equal(
    error({ OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '1e3' }),
    'OTEL_BSP_MAX_EXPORT_BATCH_SIZE: expected a whole number of spans from 1 to 100000, got "1e3"',
  );
  assert.equal(error({ OTEL_BSP_EXPORT_TIMEOUT: '30s' }), 'OTEL_BSP_EXPORT_TIMEOUT: expected a whole number of milliseconds from 1 to 3600000, got "30s"');
});

test("the resource: service.name as resolved, service.version the runner's unless the configured attributes set one", () => {
  const settings = otlpMetricsSettings(undefined, {
    OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c',
    OTEL_SERVICE_NAME: 'env-name',
    OTEL_RESOURCE_ATTRIBUTES: 'service.name=attr-name,region=eu',
  })!;
  assert.deepEqual(serviceResource(settings.serviceName, settings.resourceAttributes), {
    'service.name': 'env-name',
    'service.version': versionInfo.version,
    region: 'eu',
  });
  assert.equal(serviceResource('r', { 'service.version': '9.9.9' })['service.version'], '9.9.9');
});
