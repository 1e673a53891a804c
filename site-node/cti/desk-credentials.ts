/**
 * Desk passwords and the desk audit behind a small store port (`DeskCredentialStore`: the
 * site's database, site-node/store/desk-auth-repo.ts; an in-memory one for the service's
 * tests), with the hashing and the rules on top: only users of the roster have passwords,
 * a new password follows `checkNewPassword`, and every change is audited with who made it.
 */
import type { Clock } from '../../shared/clock.js';
import { DomainError } from '../../shared/errors.js';
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
  /** Store the hash and its audit entry, both or neither. */
  setPasswordHash(userId: string, hash: string, audit: DeskAuditEntry): Promise<void>;
  audit(entry: DeskAuditEntry): Promise<void>;
}

/** An in-memory store: the agent service's tests (tier 2). */
export class MemoryCredentialStore implements DeskCredentialStore {
  readonly hashes = new Map<string, string>();
  readonly entries: DeskAuditEntry[] = [];
  passwordHash(userId: string): Promise<string | undefined> {
    return Promise.resolve(this.hashes.get(userId));
  }
  setPasswordHash(userId: string, hash: string, audit: DeskAuditEntry): Promise<void> {
    this.hashes.set(userId, hash);
    this.entries.push(audit);
    return Promise.resolve();
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
   * Set `userId`'s password, audited as done `by` (a desk user or `operator:<name>`). An
   * unknown user is NOT_FOUND naming `user_id`; a password out of the rule INVALID_ARGUMENT.
   */
  async setPassword(
    userId: string,
    password: string,
    by: string,
    detail: Record<string, unknown> = {},
  ): Promise<void> {
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
    await this.store.setPasswordHash(userId, hash, {
      atMs: this.clock.now(),
      actor: by,
      action: 'set-password',
      target: userId,
      detail,
    });
  }

  /** Whether the password is right; the same work for a user unknown or without a password. */
  async verify(
    userId: string,
    password: string,
  ): Promise<{ ok: boolean; why?: 'unknown user' | 'no password set' | 'wrong password' }> {
    const known = this.roster.user(userId) !== undefined;
    const stored = known ? await this.store.passwordHash(userId) : undefined;
    const ok = await verifyPassword(password, stored);
    if (ok) return { ok };
    return { ok, why: !known ? 'unknown user' : stored === undefined ? 'no password set' : 'wrong password' };
  }

  audit(entry: Omit<DeskAuditEntry, 'atMs'>): Promise<void> {
    return this.store.audit({ ...entry, atMs: this.clock.now() });
  }
}
