/** The Kafka broker fuling ships its events through stopped for 30 s (the suite's own broker). */
import type { Scenario } from '../harness.js';
import { hold } from '../harness.js';
import { unshipped } from '../measure.js';
import { measureRecovery } from './common.js';

const SITE = 'fuling';

export const kafkaStop: Scenario = {
  name: 'kafka-stop',
  summary: 'the Kafka broker stopped for 30 s while fuling ships its events through it',
  kafka: true,
  async run(ctx) {
    const broker = ctx.kafka;
    if (!broker) throw new Error('kafka-stop needs the suite to start a broker');
    const downMs = Math.round(30_000 * ctx.scale);
    const at = Date.now();
    await broker.stop();
    await hold(Math.max(0, at + downMs - Date.now()));
    ctx.figures.kafkaDownMs = Date.now() - at;
    ctx.figures.backlogAtRestart = await unshipped(ctx.p, SITE);
    await broker.start();
    ctx.figures.brokerRestartMs = Date.now() - at - (ctx.figures.kafkaDownMs as number);
    await measureRecovery(ctx, Date.now(), [SITE]);
  },
};
