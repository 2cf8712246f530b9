// GET /health/ready: 200 once the agent is up, 503 while starting or stopping.
import type { RunnerStatus } from '../../job/status.ts';
import { sendText } from '../respond.ts';
import type { Route } from '../router.ts';

export function readinessRoute(agent: RunnerStatus): Route {
  return {
    path: '/health/ready',
    methods: ['GET'],
    handler: (req, res) => {
      if (agent.isReady()) sendText(req, res, 200, 'ready');
      else sendText(req, res, 503, `not ready: ${agent.state}`);
    },
  };
}
