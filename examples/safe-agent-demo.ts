/**
 * The end-to-end demo: a content-ranking agent whose tools call a fake
 * downstream service with injected failures, with the safety patterns
 * composing around each call. It needs no server: finished traces are
 * printed as trees on the console.
 *
 *   npm run demo
 */
import { startAgentSafety } from '../src/bootstrap/index.js';
import { act1Ranking } from './demo/act-1-ranking.js';
import { act3Gate } from './demo/act-3-gate.js';
import { RankingService } from './demo/fake-services.js';

const safety = startAgentSafety({
  serviceName: 'safe-agent-demo',
  instrumentation: { agent: { id: 'content-ranker-v3', name: 'content-ranker' } },
  console: true,
});

const ranking = new RankingService();
try {
  await act1Ranking(ranking);
  await act3Gate();
} finally {
  await safety.shutdown();
}
console.log('demo finished');
