// The startup bench's floor: the least a metrics server can be on this runtime - node:http
// answering GET /metrics with one Prometheus line, announcing its address as the runner does.
import { createServer } from 'node:http';

const server = createServer((_request, response) => {
  response.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
  response.end('# HELP up Floor.\n# TYPE up gauge\nup 1\n');
});
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  if (address !== null && typeof address === 'object') process.stderr.write(`Metrics server listening  address=127.0.0.1:${address.port}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
