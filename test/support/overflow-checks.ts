/**
 * What overflow and cover tests read off two federated sites (federated-site.ts): their log
 * lines by message, the origin's asks and stays-home for a call, the target's records of a
 * moved call, and the numbers of the simulated customers the IVR recognises.
 */
import { makePopulation } from '../../site-node/sim/population.js';
import type { FederatedSite } from './federated-site.js';

export interface LogLine {
  msg: string;
  [k: string]: unknown;
}

/** The JSON log lines with this message. */
export const logLines = (lines: readonly string[], msg: string): LogLine[] =>
  lines.map((l) => JSON.parse(l) as LogLine).filter((l) => l.msg === msg);

export const logged = (s: FederatedSite, msg: string): LogLine[] => logLines(s.lines, msg);

/** The origin's asks for a call (`overflow asked`). */
export const asksFor = (s: FederatedSite, callId: string): LogLine[] =>
  logged(s, 'overflow asked').filter((l) => l.callId === callId);

/** The origin's asks for a call that ended with the call at home. */
export const homeFor = (s: FederatedSite, callId: string): LogLine[] =>
  logged(s, 'overflow: call stays home').filter((l) => l.callId === callId);

/** The first row of a query on the site's database. */
export async function row<T>(s: FederatedSite, sql: string, params: unknown[]): Promise<T | undefined> {
  return (await s.pool.query(sql, params)).rows[0] as T | undefined;
}

/** This site's records of calls moved in from `originCallId`. */
export async function movedIn(
  s: FederatedSite,
  originCallId: string,
): Promise<Array<{ id: string; state: string }>> {
  const r = await s.pool.query<{ id: string; state: string }>(
    `SELECT id, state FROM calls WHERE overflow_in ->> 'originCallId' = $1`,
    [originCallId],
  );
  return r.rows;
}

/** A known customer's number (recognised by the IVR, which then goes straight to the menu). */
export const customerPhone = (siteId: string, i: number, customers: number, seed: number): string =>
  makePopulation(siteId, customers, seed)[i]!.profile.phones[0]!;
