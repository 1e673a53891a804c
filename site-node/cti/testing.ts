/**
 * Test helpers for the agent desk's authentication (tests only: code that ships never imports
 * this file, docs/architecture.md §2): a DeskAuth over an in-memory credential store with a
 * cheap scrypt and a known password per user, and a client interceptor that signs each call
 * with the token of the agent its request names (so a test written against agent ids keeps
 * reading as it did).
 */
import type { Metadata } from '@grpc/grpc-js';
import { InterceptingCall, type Interceptor } from '@grpc/grpc-js';
import { ManualClock, type Clock } from '../../shared/clock.js';
import { silentLogger, type Logger } from '../../shared/log.js';
import { DEFAULT_DESK_AUTH, type DeskAuthConfig } from '../config.js';
import type { DeskTeam } from './desk-access.js';
import { makeDeskAuth, type DeskAuth } from './desk-auth.js';
import { MemoryCredentialStore } from './desk-credentials.js';
import type { ScryptParams } from './password-hash.js';

/** Cheap enough for a test to set a dozen passwords; never for real ones. */
export const TEST_SCRYPT: ScryptParams = { N: 1024, r: 8, p: 1 };

/** Every test user's password. */
export function testPassword(userId: string): string {
  return `pw-${userId}-secret`;
}

export interface TestDeskAuth {
  auth: DeskAuth;
  store: MemoryCredentialStore;
}

export async function testDeskAuth(o: {
  agents: readonly string[];
  supervisors?: readonly string[];
  teams?: DeskTeam[];
  config?: Partial<DeskAuthConfig>;
  clock?: Clock;
  log?: Logger;
  /** A store of the test's own (one that holds a lookup, say); default a fresh one. */
  store?: MemoryCredentialStore;
  sweepMs?: number;
}): Promise<TestDeskAuth> {
  const store = o.store ?? new MemoryCredentialStore();
  const auth = makeDeskAuth({
    roster: {
      agents: o.agents.map((id) => ({ id, name: `agent ${id}` })),
      supervisors: (o.supervisors ?? []).map((id) => ({ id, name: `supervisor ${id}` })),
      teams: o.teams ?? [],
    },
    store,
    config: { ...DEFAULT_DESK_AUTH, ...o.config },
    clock: o.clock ?? new ManualClock(1_000_000),
    log: o.log ?? silentLogger,
    scrypt: TEST_SCRYPT,
    ...(o.sweepMs === undefined ? {} : { sweepMs: o.sweepMs }),
  });
  for (const id of [...o.agents, ...(o.supervisors ?? [])]) {
    await auth.credentials.setPassword(id, testPassword(id), 'test');
  }
  return { auth, store };
}

/**
 * A client interceptor that sends `authorization: Bearer <token>` with the token of the user
 * the request names (`agentId`, else `userId`), when `tokenFor` knows one. The call's start
 * waits for its message so the metadata can depend on it.
 */
export function bearerByRequest(tokenFor: (userId: string) => string | undefined): Interceptor {
  return (options, nextCall) => {
    let started: { metadata: Metadata; listener: Parameters<InterceptingCall['start']>[1] } | undefined;
    let go: ((m: Metadata, l: NonNullable<typeof started>['listener']) => void) | undefined;
    return new InterceptingCall(nextCall(options), {
      start: (metadata, listener, next) => {
        started = { metadata, listener };
        go = next as typeof go;
      },
      sendMessage: (message: { agentId?: string; userId?: string }, next) => {
        const token = tokenFor(message.agentId || message.userId || '');
        if (token !== undefined && started!.metadata.get('authorization').length === 0) {
          started!.metadata.set('authorization', `Bearer ${token}`);
        }
        go!(started!.metadata, started!.listener);
        next(message);
      },
    });
  };
}
