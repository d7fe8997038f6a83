import helmet from 'helmet';

/**
 * The security headers of every page textops serves (the inference page, the console): scripts from self only;
 * inline styles allowed (uPlot positions its parts with them); images from self and data: URLs.
 */
export function pageSecurityHeaders(): ReturnType<typeof helmet> {
  return helmet({
    contentSecurityPolicy: {
      directives: {
        'script-src': ["'self'"],
        'style-src': ["'self'", "'unsafe-inline'"],
        'img-src': ["'self'", 'data:'],
        // helmet's default: it makes the browser fetch scripts and API calls over https, which a server reached
        // over plain HTTP by any name but localhost (a container by its address) does not answer: the page
        // stays dead. Behind TLS the page's own relative URLs are https already.
        'upgrade-insecure-requests': null,
      },
    },
    // Strict-Transport-Security and Cross-Origin-Opener-Policy stay: browsers ignore both on plain HTTP (RFC
    // 6797 §8.1; COOP needs a trustworthy origin) without breaking anything, and honour them behind TLS.
  });
}
