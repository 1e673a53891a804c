/**
 * Desk passwords and the desk audit behind a small store port (`DeskCredentialStore`: the
 * site's database, site-node/store/desk-auth-repo.ts; an in-memory one for the service's
 * tests), with the hashing and the rules on top: only users of the roster have passwords,
 * a new password follows `checkNewPassword`, and every change is audited with who made it.
 *
 * A password's version (`credentialVersion`, a digest of its stored hash: every hash has a
 * fresh salt) is what a desk session signed in with; a session whose user's version changed,
 * whoever changed it, has ended (desk-auth.ts). A change of one's own password is stored only
 * if the hash is still the one the old password was checked against, so a supervisor's reset
 * that landed meanwhile is never overwritten.
 */
import { createHash } from 'node:crypto';
import type { Clock } from '../../shared/clock.js';
import { conflict, DomainError } from '../../shared/errors.js';
import type { DeskRoster } from './desk-access.js';
import { checkNewPassword, hashPassword, verifyPassword, type ScryptParams } from './password-hash.js';

export type DeskAuditAction = 'set-password' | 'force-not-ready' | 'force-logout';

export interface DeskAuditEntry {
  atMs: number;
  /** Who: a desk user id, or `operator:<OS user>` for the bootstrap CLI. */
  actor: string;
  action: DeskAuditAction;
  target: string;
  detail: Record<string, unknown>;
}

export interface DeskCredentialStore {
  passwordHash(userId: string): Promise<string | undefined>;
  /** Every user's stored hash (a roster's worth: read every few seconds). */
  passwordHashes(): Promise<Map<string, string>>;
  /**
   * Store the hash and its audit entry, both or neither. With `ifHash`, only if the stored
   * hash is still that one; false (nothing stored) when it is not.
   */
  setPasswordHash(userId: string, hash: string, audit: DeskAuditEntry, ifHash?: string): Promise<boolean>;
  audit(entry: DeskAuditEntry): Promise<void>;
}

/** The version of a stored password: a short digest of its hash (never the hash itself). */
export function credentialVersion(hash: string): string {
  return createHash('sha256').update(hash).digest('base64url').slice(0, 22);
}

/** An in-memory store: the agent service's tests (tier 2). */
export class MemoryCredentialStore implements DeskCredentialStore {
  readonly hashes = new Map<string, string>();
  readonly entries: DeskAuditEntry[] = [];
  /** Lookups of one hash made, for the tests that check every sign-in asks the store. */
  lookups = 0;
  passwordHash(userId: string): Promise<string | undefined> {
    this.lookups++;
    return Promise.resolve(this.hashes.get(userId));
  }
  passwordHashes(): Promise<Map<string, string>> {
    return Promise.resolve(new Map(this.hashes));
  }
  setPasswordHash(userId: string, hash: string, audit: DeskAuditEntry, ifHash?: string): Promise<boolean> {
    if (ifHash !== undefined && this.hashes.get(userId) !== ifHash) return Promise.resolve(false);
    this.hashes.set(userId, hash);
    this.entries.push(audit);
    return Promise.resolve(true);
  }
  audit(entry: DeskAuditEntry): Promise<void> {
    this.entries.push(entry);
    return Promise.resolve();
  }
}

export class DeskCredentials {
  constructor(
    private readonly store: DeskCredentialStore,
    private readonly roster: DeskRoster,
    private readonly clock: Clock,
    /** Stronger or weaker scrypt (tests); default password-hash.ts DEFAULT_SCRYPT. */
    private readonly scrypt?: ScryptParams,
  ) {}

  /**
   * Set `userId`'s password, audited as done `by` (a desk user or `operator:<name>`); returns
   * its version. An unknown user is NOT_FOUND naming `user_id`; a password out of the rule
   * INVALID_ARGUMENT. With `ifHash` (the hash the old password was checked against), a
   * password set meanwhile by someone else is CONFLICT naming `old_password`, and nothing is
   * stored.
   */
  async setPassword(
    userId: string,
    password: string,
    by: string,
    detail: Record<string, unknown> = {},
    ifHash?: string,
  ): Promise<string> {
    if (!this.roster.user(userId)) {
      throw new DomainError(
        'not-found',
        `user_id: ${JSON.stringify(userId)} is not an agent or supervisor of this site`,
        {
          field: 'user_id',
        },
      );
    }
    checkNewPassword(password);
    const hash = await hashPassword(password, this.scrypt);
    const stored = await this.store.setPasswordHash(
      userId,
      hash,
      { atMs: this.clock.now(), actor: by, action: 'set-password', target: userId, detail },
      ifHash,
    );
    if (!stored) {
      const e = conflict(
        `old_password: the password of ${JSON.stringify(userId)} was set by someone else meanwhile: sign in with the new one`,
      );
      throw new DomainError(e.kind, e.message, { field: 'old_password' });
    }
    return credentialVersion(hash);
  }

  /**
   * Whether the password is right, and the hash it matched (for `setPassword`'s `ifHash`).
   * The same work for a user unknown or without a password: the store is asked even for an
   * id the roster does not know, so the answer's time does not say which ids are users.
   */
  async verify(
    userId: string,
    password: string,
  ): Promise<{ ok: boolean; why?: 'unknown user' | 'no password set' | 'wrong password'; stored?: string }> {
    const known = this.roster.user(userId) !== undefined;
    const found = await this.store.passwordHash(userId);
    const stored = known ? found : undefined;
    const ok = await verifyPassword(password, stored);
    if (ok) return { ok, ...(stored === undefined ? {} : { stored }) };
    return { ok, why: !known ? 'unknown user' : stored === undefined ? 'no password set' : 'wrong password' };
  }

  /** Every user's password version now. */
  async versions(): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    for (const [userId, hash] of await this.store.passwordHashes()) out.set(userId, credentialVersion(hash));
    return out;
  }

  audit(entry: Omit<DeskAuditEntry, 'atMs'>): Promise<void> {
    return this.store.audit({ ...entry, atMs: this.clock.now() });
  }
}
