// Reading a Prometheus text exposition in tests.

/** The metric families of an exposition: name -> type. */
export function families(body: string): Map<string, string> {
  return new Map([...body.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map(([, name, type]) => [name!, type!]));
}
