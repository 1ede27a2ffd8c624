// The OAuth2 peer of the client-credentials tests: oauth2-mock-server (axa-group), with the
// client authentication it leaves out checked here, at a Keycloak-shaped token URL.
// Usage: node server.mjs PORT
import { OAuth2Server } from 'oauth2-mock-server';

const port = Number(process.argv[2]);
// client id -> secret; `short-lived` gets tokens that expire after a minute.
const clients = { 'release-pipeline': 'pipeline-secret', 'short-lived': 'short-secret' };

const server = new OAuth2Server(undefined, undefined, {
  endpoints: { token: '/realms/tx/protocol/openid-connect/token' },
});
await server.issuer.keys.generate('RS256');

// RFC 6749 §2.3.1: HTTP Basic (form-encoded id and secret), or both in the body.
function client(req) {
  const header = req.headers.authorization;
  if (header && header.startsWith('Basic ')) {
    const [id, secret] = Buffer.from(header.slice(6), 'base64').toString().split(':');
    const decode = (s) => decodeURIComponent((s ?? '').replace(/\+/g, ' '));
    return { id: decode(id), secret: decode(secret), method: 'basic' };
  }
  return { id: req.body.client_id, secret: req.body.client_secret, method: 'body' };
}

server.service.on('beforeTokenSigning', (token, req) => {
  const c = client(req);
  token.payload.client_id = c.id;
  token.payload.auth_method = c.method;
});

server.service.on('beforeResponse', (response, req) => {
  const c = client(req);
  if (!c.id || clients[c.id] === undefined || clients[c.id] !== c.secret) {
    response.statusCode = 401;
    response.body = { error: 'invalid_client', error_description: 'client authentication failed' };
    return;
  }
  if (c.id === 'short-lived') {
    response.body.expires_in = 60;
  }
});

await server.start(port, '127.0.0.1');
console.log(`ready ${server.issuer.url}`);
