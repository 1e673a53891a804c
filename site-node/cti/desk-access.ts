/**
 * Who may do what at the agent desk: the one rule (docs/architecture.md §4.3 "Desk
 * authentication"), pure, used by the gRPC service for every call.
 *
 *   - a caller is a signed-in session or a verified `agent` certificate (a DeskPrincipal; a
 *     certificate is only ever an agent, desk-auth.ts);
 *     the agent RPCs act only for the caller's own agent (`actFor`);
 *   - a supervisor acts on the agents of its own teams (`supervise`), sees those teams
 *     (`teamOf`), and sets the passwords of those who are no supervisor themselves: an agent
 *     who supervises another team may be a member of this one, and its password would be
 *     that team too (only the operator's CLI sets a supervisor's password but its own);
 *   - anybody sets their own password, with the old one (`setPassword`).
 * Anything else is PERMISSION_DENIED naming the field that names the other user.
 *
 * The roster (who is an agent, who supervises which team) comes from the site config's
 * `agents`, `supervisors` and `teams` (site-node/config.ts checks it).
 */
import { DomainError } from '../../shared/errors.js';
import type { DeskRole, DeskUser } from './desk-sessions.js';

export interface DeskTeam {
  id: string;
  supervisors: readonly string[];
  agents: readonly string[];
}

export interface DeskRosterInput {
  agents: ReadonlyArray<{ id: string; name: string }>;
  supervisors: ReadonlyArray<{ id: string; name: string }>;
  teams: readonly DeskTeam[];
}

/** Who is calling, as far as the rule needs to know. */
export interface DeskPrincipal extends DeskUser {
  /** How the caller proved it: a session from SignIn, or a client certificate. */
  via: 'session' | 'certificate';
  /** The session's token (via session). */
  token?: string;
}

export interface RosterUser extends DeskUser {
  name: string;
}

export class DeskRoster {
  private readonly users = new Map<string, RosterUser>();
  readonly teams: readonly DeskTeam[];

  constructor(input: DeskRosterInput) {
    this.teams = input.teams;
    const supervising = new Set(input.teams.flatMap((t) => t.supervisors));
    for (const a of input.agents) {
      this.users.set(a.id, {
        userId: a.id,
        name: a.name,
        agentId: a.id,
        role: supervising.has(a.id) ? 'supervisor' : 'agent',
      });
    }
    for (const s of input.supervisors)
      this.users.set(s.id, { userId: s.id, name: s.name, role: 'supervisor' });
  }

  user(userId: string): RosterUser | undefined {
    return this.users.get(userId);
  }

  /** The teams `userId` supervises. */
  teamsOf(userId: string): DeskTeam[] {
    return this.teams.filter((t) => t.supervisors.includes(userId));
  }

  supervises(userId: string, agentId: string): boolean {
    return this.teamsOf(userId).some((t) => t.agents.includes(agentId));
  }
}

function describe(p: DeskPrincipal): string {
  return `${p.role} ${JSON.stringify(p.userId)}`;
}

/** The agent RPCs: only for the caller's own agent. Returns the agent id. */
export function actFor(p: DeskPrincipal, agentId: string): string {
  if (p.agentId === undefined) {
    throw new DomainError(
      'permission-denied',
      `${describe(p)} is not an agent of this site and cannot act for agent ${JSON.stringify(agentId)}`,
      { field: 'agent_id' },
    );
  }
  if (p.agentId !== agentId) {
    throw new DomainError(
      'permission-denied',
      `${describe(p)} cannot act for agent ${JSON.stringify(agentId)}: an agent can only act for itself`,
      { field: 'agent_id' },
    );
  }
  return agentId;
}

/** A supervisor's action on an agent: only on the agents of its own teams. */
export function supervise(roster: DeskRoster, p: DeskPrincipal, agentId: string): string {
  if (p.role !== 'supervisor') {
    throw new DomainError('permission-denied', `${describe(p)} is not a supervisor`, { field: 'agent_id' });
  }
  if (!roster.supervises(p.userId, agentId)) {
    throw new DomainError(
      'permission-denied',
      `supervisor ${JSON.stringify(p.userId)} has no team with agent ${JSON.stringify(agentId)}`,
      { field: 'agent_id' },
    );
  }
  return agentId;
}

/** ListTeam: the caller must supervise at least one team. */
export function teamOf(roster: DeskRoster, p: DeskPrincipal): DeskTeam[] {
  const teams = roster.teamsOf(p.userId);
  if (p.role !== 'supervisor' || teams.length === 0) {
    throw new DomainError('permission-denied', `${describe(p)} supervises no team`);
  }
  return teams;
}

/**
 * SetPassword: one's own (the old password is checked by the caller of this rule) or a
 * member's of one's teams who is no supervisor. Says which, so the caller knows whether to
 * check the old one.
 */
export function setPassword(roster: DeskRoster, p: DeskPrincipal, userId: string): 'self' | 'supervisor' {
  if (p.userId === userId) return 'self';
  if (p.role === 'supervisor' && roster.user(userId)?.role === 'supervisor') {
    throw new DomainError(
      'permission-denied',
      `${describe(p)} cannot set the password of supervisor ${JSON.stringify(userId)}: a supervisor's password is set by that supervisor or by the operator (site-admin)`,
      { field: 'user_id' },
    );
  }
  if (p.role === 'supervisor' && roster.supervises(p.userId, userId)) return 'supervisor';
  throw new DomainError(
    'permission-denied',
    `${describe(p)} cannot set the password of ${JSON.stringify(userId)}: only that user, or a supervisor of its team`,
    { field: 'user_id' },
  );
}

export type { DeskRole };
