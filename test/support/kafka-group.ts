/**
 * The broker's own view of a consumer group, through Kafka's ConsumerGroupCommand (the jars
 * deploy/services.sh installs; KAFKA_LIB_DIR). node-rdkafka has no group admin API, and a
 * consumer only learns it was dropped from its group at its next poll: a test that needs to
 * know the drop has happened asks the group coordinator.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** The number of members the coordinator lists for the group (0 when it has none or does not exist). */
export async function groupMembers(brokers: string, group: string): Promise<number> {
  const lib = process.env.KAFKA_LIB_DIR;
  if (!lib) throw new Error('KAFKA_LIB_DIR is not set: source .services/env.sh (bash deploy/services.sh up)');
  const log4j = process.env.KAFKA_TOOLS_LOG4J;
  const args = [
    '-Xmx256m',
    '-XX:TieredStopAtLevel=1',
    ...(log4j ? [`-Dlog4j.configuration=file:${log4j}`] : []),
    '-cp',
    `${lib}/*`,
    'org.apache.kafka.tools.consumer.group.ConsumerGroupCommand',
    ...['--bootstrap-server', brokers, '--describe', '--group', group, '--state'],
  ];
  const { stdout, stderr } = await run('java', args, { timeout: 30_000 }).catch(
    (e: { stdout?: string; stderr?: string }) => ({ stdout: e.stdout ?? '', stderr: e.stderr ?? '' }),
  );
  if (/does not exist/.test(stdout + stderr)) return 0;
  // GROUP  COORDINATOR (ID)  ASSIGNMENT-STRATEGY  STATE  #MEMBERS: the last column of the row.
  const row = stdout.split('\n').find((l) => l.startsWith(`${group} `));
  const n = row ? Number(row.trim().split(/\s+/).at(-1)) : NaN;
  if (!Number.isInteger(n)) throw new Error(`cannot read the members of group ${group}: ${stdout}${stderr}`);
  return n;
}
