/**
 * Agent phones' registrations in the site's database (migration 011_sip_registrations.sql): the
 * PostgreSQL adapter of RegistrationStore (site-node/telephony/phone-registrar.ts). A REGISTER's
 * changes commit together or not at all, before the phone is told they were made.
 */
import type pg from 'pg';
import { query } from '../../shared/pg/pool.js';
import { withTransaction } from '../../shared/pg/transaction.js';
import type { BindingWrite, RegistrationStore, StoredBinding } from '../telephony/phone-registrar.js';
import { ts } from './context.js';

interface Row {
  aor: string;
  contact: string;
  call_id: string;
  cseq: string;
  expires_at: Date;
  q: string | null;
  received_transport: 'udp' | 'tcp';
  received_host: string;
  received_port: number;
  user_agent: string | null;
  registered_at: Date;
}

const fromRow = (r: Row): StoredBinding => ({
  aor: r.aor,
  contact: r.contact,
  callId: r.call_id,
  cseq: Number(r.cseq),
  expiresAtMs: r.expires_at.getTime(),
  q: r.q === null ? undefined : Number(r.q),
  received: { transport: r.received_transport, host: r.received_host, port: r.received_port },
  userAgent: r.user_agent ?? undefined,
  registeredAtMs: r.registered_at.getTime(),
});

export class PgRegistrationStore implements RegistrationStore {
  constructor(private readonly pool: pg.Pool) {}

  async load(): Promise<StoredBinding[]> {
    const r = await query<Row>(
      this.pool,
      `SELECT * FROM sip_registrations ORDER BY aor, registered_at, contact`,
      [],
    );
    return r.rows.map(fromRow);
  }

  async apply(writes: readonly BindingWrite[]): Promise<void> {
    if (writes.length === 0) return;
    await withTransaction(this.pool, async (c) => {
      for (const w of writes) {
        if (w.kind === 'delete') {
          await c.query(`DELETE FROM sip_registrations WHERE aor = $1 AND contact = $2`, [w.aor, w.contact]);
          continue;
        }
        const b = w.binding;
        await c.query(
          `INSERT INTO sip_registrations (aor, contact, call_id, cseq, expires_at, q, received_transport,
             received_host, received_port, user_agent, registered_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
           ON CONFLICT (aor, contact) DO UPDATE SET call_id = $3, cseq = $4, expires_at = $5, q = $6,
             received_transport = $7, received_host = $8, received_port = $9, user_agent = $10,
             registered_at = $11`,
          [
            b.aor,
            b.contact,
            b.callId,
            b.cseq,
            ts(b.expiresAtMs),
            b.q ?? null,
            b.received.transport,
            b.received.host,
            b.received.port,
            b.userAgent ?? null,
            ts(b.registeredAtMs),
          ],
        );
      }
    });
  }
}
