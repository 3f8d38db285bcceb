import { Counter, Gauge, type Registry } from 'prom-client';
import { closedCounter } from '../../shared/metrics.js';

export const IDPS_RELOAD_RESULTS = ['ok', 'error'] as const;
export const METADATA_REFRESH_RESULTS = ['ok', 'error'] as const;

/**
 * The IdP directory's metrics. The `idp` label only ever holds the names of the configured IdPs whose
 * certificates come from metadata: their series are created (at zero) when the IdP is configured and
 * removed when a reload drops it.
 */
export interface IdpMetrics {
  reloaded(result: (typeof IDPS_RELOAD_RESULTS)[number]): void;
  /** The metadata IdPs now configured: pre-registers their series, removes those of any other. */
  configured(names: readonly string[]): void;
  refreshed(idp: string, result: (typeof METADATA_REFRESH_RESULTS)[number]): void;
  /** Whether the IdP is usable from metadata now, and when its metadata was last fetched and applied. */
  state(idp: string, ok: boolean, lastSuccessMs: number | undefined): void;
}

export function idpMetrics(registry: Registry): IdpMetrics {
  const reloads = closedCounter(registry, 'saml_idps_reload_total', 'Reloads of SAML_IDPS_FILE after a change, by result (error: the last good list stays)', 'result', IDPS_RELOAD_RESULTS);
  const refreshes = new Counter({
    name: 'saml_idp_metadata_refresh_total',
    help: 'IdP metadata fetches, by IdP and result (error: the last good metadata stays)',
    labelNames: ['idp', 'result'] as const,
    registers: [registry],
  });
  const ok = new Gauge({ name: 'saml_idp_metadata_ok', help: '1 when the IdP has usable settings from its metadata and the last fetch succeeded', labelNames: ['idp'] as const, registers: [registry] });
  const last = new Gauge({
    name: 'saml_idp_metadata_last_success_timestamp_seconds',
    help: 'When the IdP metadata was last fetched and applied (Unix time; alert on time() minus this)',
    labelNames: ['idp'] as const,
    registers: [registry],
  });
  let names = new Set<string>();
  return {
    reloaded: (result) => reloads.inc({ result }),
    configured(next) {
      for (const idp of names) {
        if (next.includes(idp)) continue;
        for (const result of METADATA_REFRESH_RESULTS) refreshes.remove({ idp, result });
        ok.remove({ idp });
        last.remove({ idp });
      }
      for (const idp of next) {
        if (names.has(idp)) continue;
        for (const result of METADATA_REFRESH_RESULTS) refreshes.inc({ idp, result }, 0);
        ok.set({ idp }, 0);
      }
      names = new Set(next);
    },
    refreshed(idp, result) {
      if (names.has(idp)) refreshes.inc({ idp, result });
    },
    state(idp, usable, lastSuccessMs) {
      if (!names.has(idp)) return;
      ok.set({ idp }, usable ? 1 : 0);
      if (lastSuccessMs !== undefined) last.set({ idp }, lastSuccessMs / 1000);
    },
  };
}
