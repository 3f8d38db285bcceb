/**
 * In real headless Chromium through the NGINX that ingress-nginx generates for the auth-url,
 * auth-signin and auth-response-headers annotations (examples/nginx/ingress-nginx.conf.template).
 * Scenarios: ./scenarios.ts; harness: ./suite.ts.
 */
import { browserSuite } from './suite.js';

browserSuite('ingress-nginx');
