// Demo lane: one token for a fleet. Several processes (fleet-member.ts), each with its own token provider and
// @tokenkit/redis as the shared store, start on a cold cache and call the API at the same moment: between them they
// make one token request, and all use the same token. The lane starts its own redis-server (no persistence, a free
// port); without one installed it says how to get one and is skipped, which is not a failure.
import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { hasRedis, startRedis } from '@tokenkit/test-utils';
import { plural, startSample } from '../sample-kit.ts';
import type { MemberMessage } from './fleet-member.ts';

const demo = startSample({ name: 'fleet', readme: 'apps/demo-stack/README.md' });
const size = Number(process.env['TOKENKIT_DEMO_FLEET'] ?? 4);

if (!hasRedis()) {
  demo.say('redis-server is not installed, so this lane cannot run here.');
  demo.say('To see a fleet share one token: apt install redis-server (Debian, Ubuntu) or brew install redis (macOS).');
  demo.report('no redis-server (apt install redis-server / brew install redis)');
} else {
  const redis = await startRedis();
  const env = {
    ...process.env,
    REDIS_URL: redis.url,
    TOKEN_CACHE_KEY: randomBytes(32).toString('base64'), // this run's encryption key: tokens are encrypted in Redis
  };
  const members: ChildProcess[] = [];
  try {
    demo.say(`${size} processes, each with its own token provider, share redis-server ${redis.url} (encrypted)`);
    const script = fileURLToPath(new URL('./fleet-member.ts', import.meta.url));
    const results = Array.from({ length: size }, (_, i) => {
      const member = fork(script, { env, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
      members.push(member);
      return messages(member, i + 1);
    });
    // Everyone connected first, then `go` to all at once: a cold fleet asking together.
    await Promise.all(results.map((r) => r.ready));
    demo.say(`all ${size} connected; each now calls GET /payments at the same moment, on a cold cache`);
    for (const member of members) member.send('go');
    const outcomes = await Promise.all(results.map((r) => r.done));

    const jtis = new Set<string>();
    let tokenRequests = 0;
    for (const [i, outcome] of outcomes.entries()) {
      demo.tally.apiCalls++;
      if (outcome.type !== 'done') {
        demo.fail(`process ${i + 1}: ${outcome.reason}`);
        continue;
      }
      tokenRequests += outcome.tokenRequests;
      jtis.add(outcome.jti);
      demo.say(
        `process ${i + 1}: GET /payments ${outcome.status}, token ${outcome.jti.slice(0, 8)}…, ${plural(outcome.tokenRequests, 'token request')} of its own`,
      );
      if (outcome.status !== 200) demo.fail(`process ${i + 1}: the API answered ${outcome.status}`);
    }
    demo.tally.tokensFetched = tokenRequests;
    demo.check(
      tokenRequests === 1 && jtis.size === 1,
      `${size} processes made ${plural(tokenRequests, 'token request')} in all and used ${plural(jtis.size, 'token')}`,
    );
  } catch (error) {
    demo.fail(`the fleet did not run: ${String(error)}`);
  } finally {
    for (const member of members) if (member.exitCode === null) member.kill();
    await redis.stop();
  }
  demo.report();
}

/** A member's `ready`, and its outcome; a member that exits without one, or takes over 90 s, fails. */
function messages(member: ChildProcess, n: number) {
  type Outcome = Exclude<MemberMessage, { type: 'ready' }>;
  let onReady = () => {};
  let onDone = (_outcome: Outcome) => {};
  const ready = new Promise<void>((resolve) => (onReady = resolve));
  const done = new Promise<Outcome>((resolve) => (onDone = resolve));
  // Whatever ends a member also ends its wait for `ready`, so one that fails early never holds the others back.
  const finish = (outcome: Outcome) => {
    onReady();
    onDone(outcome);
  };
  const timer = setTimeout(() => finish({ type: 'failed', reason: 'no answer within 90 s' }), 90_000);
  member.on('message', (message: MemberMessage) => {
    if (message.type === 'ready') onReady();
    else finish(message);
  });
  member.on('exit', (code) => finish({ type: 'failed', reason: `process ${n} exited (${code}) without an answer` }));
  void done.then(() => clearTimeout(timer));
  return { ready, done };
}
