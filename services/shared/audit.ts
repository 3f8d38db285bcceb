import pino, { type Logger } from 'pino';

/** The audit trail's stable schema: one JSON line per issuance, refusal, revocation and deny. */
export interface AuditEvent {
  event: 'token_issued' | 'saml_refused' | 'token_revoked' | 'access_denied' | 'redeem_refused'
    | 'session_started' | 'session_renewed' | 'session_ended'
    /** SAML Single Logout: a logout the IdP asked for (in), one we asked the IdP for (out), a refused logout message. */
    | 'slo_in' | 'slo_out' | 'slo_refused';
  /** SLO: `idp_initiated` or `sp_initiated`, and the outcome (saml_slo_total's labels). */
  direction?: string;
  result?: string;
  /** SLO: how many sessions an IdP-initiated logout ended. */
  revoked?: number;
  subject?: string | null;
  jti?: string | null;
  /** The session (sessions.sid). */
  sid?: string | null;
  /** The entity id of the IdP the subject signed in at (the token's `idp` claim). */
  idp?: string | null;
  reason?: string;
  rule?: string | null;
  method?: string;
  host?: string;
  path?: string;
  client?: string | null;
  request_id?: string;
}

export type Audit = (event: AuditEvent) => void;

/**
 * Audit events go to their own logger (name "audit") so operators can route them separately; they
 * carry identifiers, never a token, a cookie or a SAML document.
 */
export function createAudit(service: string, stream?: NodeJS.WritableStream): Audit {
  const logger: Logger = pino(
    {
      name: 'audit',
      base: { service, log: 'audit' },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    stream ?? process.stdout,
  );
  return (event) => logger.info(event);
}
