/** The site node's persistence: schema, repositories, jobs and crash recovery. */
export * from './call-states.js';
export * from './cdr.js';
export * from './context.js';
export * from './calls-repo.js';
export * from './overflow-repo.js';
export * from './overflow-commits.js';
export * from './agents-repo.js';
export * from './customers-repo.js';
export * from './tickets-repo.js';
export * from './jobs.js';
export * from './recovery.js';
export * from './stats-events.js';
export * from './desk-auth-repo.js';
export * from './sip-registrations-repo.js';
export * from './recordings-repo.js';
