/**
 * End to end through a real NGINX running what ingress-nginx generates for the auth-url, auth-signin
 * and auth-response-headers annotations (examples/nginx/ingress-nginx.conf.template, authz-service
 * FRONT_END=ingress-nginx). Scenarios: ./scenarios.ts.
 */
import { e2eSuite } from './scenarios.js';

e2eSuite('ingress-nginx');
