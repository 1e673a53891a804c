/**
 * What a caller hears and keys on the SIP media port (docs/sip.md "The site over SIP"): prompts
 * from the prompt library in the leg's codec, with barge-in and type-ahead; keys from RFC 4733
 * and SIP INFO through the leg's buffer; and the queue's treatment, music with the periodic
 * announcement. Kept apart from the port's signalling so each reads on its own.
 */
import type { Logger } from '../../shared/log.js';
import type { G711Codec } from '../../shared/media/sdp.js';
import type { MediaEngine, PromptPiece } from './media-engine.js';
import type { CallLeg, CollectOptions } from './media-port.js';
import type { PromptLibrary } from './prompt-library.js';
import type { PromptLanguage } from './prompt-pieces.js';
import type { PortLeg } from './sip-port-legs.js';

/** What the caller hears between announcements while waiting: a prompt id and its values. */
export interface QueueAnnouncement {
  promptId: string;
  vars: Record<string, string>;
}

export interface PortVoiceOptions {
  engine: MediaEngine;
  prompts: PromptLibrary;
  log: Logger;
  /** The prompts' language (the catalogue has zh and en); default zh. */
  language?: PromptLanguage;
  /** Looped while a caller waits; default the `agent.hold` prompt. */
  holdMusic?: readonly PromptPiece[];
  /**
   * The periodic announcement while a caller waits (its queue position, expected wait),
   * asked fresh each time; none: music only. The port itself knows no queue.
   */
  queueAnnouncement?: (
    callId: string,
  ) => readonly QueueAnnouncement[] | Promise<readonly QueueAnnouncement[]>;
  /** How often the announcement plays; default 30 s. */
  announceEveryMs?: number;
}

export class PortVoice {
  constructor(
    private readonly o: PortVoiceOptions,
    /** The port's live leg for a call leg (undefined once it ended). */
    private readonly live: (leg: CallLeg) => PortLeg | undefined,
  ) {}

  private codecOf(l: PortLeg): G711Codec {
    return l.runner.audio?.codec ?? 'PCMA';
  }

  private files(l: PortLeg, promptId: string, vars: Record<string, string> = {}): PromptPiece[] {
    return this.o.prompts.files(promptId, vars, this.o.language ?? 'zh', this.codecOf(l));
  }

  async play(leg: CallLeg, promptId: string, vars?: Record<string, string>): Promise<void> {
    const l = this.live(leg);
    if (!l || l.digits.pending) {
      this.o.log.debug('sip prompt skipped', {
        legId: leg.legId,
        promptId,
        why: l ? 'type-ahead' : 'leg ended',
      });
      return;
    }
    await l.runner.settled();
    const r = await this.o.engine.play(l.runner.endpointId, this.files(l, promptId, vars), { bargeIn: true });
    this.o.log.debug('sip prompt played', { legId: leg.legId, promptId, outcome: r.outcome });
    // A prompt to a waiting caller (the callback offer) took the music's place: give it back.
    if (l.holding && r.outcome !== 'replaced' && this.live(leg)) await this.startHold(l, leg);
  }

  collectDigits(leg: CallLeg, opts: CollectOptions): Promise<string | 'timeout' | 'hung-up'> {
    const l = this.live(leg);
    if (!l) return Promise.resolve('hung-up');
    return l.digits.collect(opts).then((r) => {
      // The keys themselves are never logged (a PIN comes this way): only how many.
      this.o.log.debug('sip keys collected', {
        legId: leg.legId,
        result: r === 'timeout' || r === 'hung-up' ? r : `${r.length} keys`,
      });
      return r;
    });
  }

  async hold(leg: CallLeg): Promise<void> {
    let l = this.live(leg);
    if (l?.ready) {
      // A leg handed over here: the hold its claim asked for waits for the answer's media.
      await l.ready;
      l = this.live(leg);
    }
    if (!l) return;
    l.digits.clear();
    await this.startHold(l, leg);
  }

  /** Music and announcements; keys already pressed stay (a key may answer the prompt before). */
  private async startHold(l: PortLeg, leg: CallLeg): Promise<void> {
    l.holding = true;
    const music = this.o.holdMusic ?? this.files(l, 'agent.hold');
    const announce = this.o.queueAnnouncement;
    await this.o.engine.hold(l.runner.endpointId, {
      music,
      ...(announce
        ? {
            announce: {
              everyMs: this.o.announceEveryMs ?? 30_000,
              pieces: async () => {
                const items = await announce(leg.callId);
                this.o.log.debug('sip queue announcement', {
                  legId: leg.legId,
                  prompts: items.map((a) => a.promptId),
                });
                return items.flatMap((a) => this.files(l, a.promptId, a.vars));
              },
            },
          }
        : {}),
    });
  }
}
