// Shared by the node outside-client scripts: where the emulator is, the browser step, and a way
// to record each step's outcome as JSON for the Python test to assert on.
//
// The libraries are used unmodified. Only their base URL constants point at the emulator, which
// the test passes in QB_EMULATOR_URL; the packages are found through NODE_PATH (the local prefix
// that .ci/run installs them into, QB_MCP_NODE_PREFIX).
'use strict';

const OAuthClient = require('intuit-oauth');

const base = process.env.QB_EMULATOR_URL;
const clientId = process.env.QB_CLIENT_ID;
const clientSecret = process.env.QB_CLIENT_SECRET;
const redirectUri = process.env.QB_REDIRECT_URI;
if (!base || !clientId || !clientSecret || !redirectUri) {
  throw new Error('QB_EMULATOR_URL, QB_CLIENT_ID, QB_CLIENT_SECRET and QB_REDIRECT_URI are needed');
}

// intuit-oauth's own way to use other OAuth endpoints is setAuthorizeURLs (per client, below);
// the JWKS and API base URLs are constants of the class.
OAuthClient.jwks_uri = `${base}/op/v1/jwks`;
OAuthClient.environment = { sandbox: `${base}/`, production: `${base}/` };

function oauthClient(options = {}) {
  const client = new OAuthClient({
    clientId, clientSecret, environment: 'sandbox', redirectUri, ...options,
  });
  client.setAuthorizeURLs({
    authorizeEndpoint: `${base}/connect/oauth2`,
    tokenEndpoint: `${base}/oauth2/v1/tokens/bearer`,
    revokeEndpoint: `${base}/v2/oauth2/tokens/revoke`,
    userInfoEndpoint: `${base}/v1/openid_connect/userinfo`,
  });
  return client;
}

// The browser step: open the authorize URL, consent (the emulator does at once), and return the
// redirect URL the app's callback would receive.
async function consent(authorizeUrl) {
  const answer = await fetch(authorizeUrl, { redirect: 'manual' });
  if (answer.status !== 302) throw new Error(`authorize answered ${answer.status}`);
  return answer.headers.get('location');
}

// A client that went through authorize and the code exchange.
async function connect(scope, options = {}) {
  const client = oauthClient(options);
  const url = client.authorizeUri({ scope, state: 'node-state' });
  const redirect = await consent(url);
  const authResponse = await client.createToken(redirect);
  return { client, authResponse, redirect };
}

// The emulator's admin API (fault injection), as a test harness would use it.
async function chaos(settings) {
  const answer = await fetch(`${base}/_emulator/chaos`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(settings),
  });
  if (answer.status !== 200) throw new Error(`chaos answered ${answer.status}`);
}

// Each step's outcome, keyed by name: {ok: true, ...what the step returned} or {ok: false, error}.
const results = {};

async function step(name, body) {
  try {
    results[name] = { ok: true, ...((await body()) || {}) };
  } catch (error) {
    results[name] = { ok: false, error: describe(error) };
  }
}

function describe(error) {
  if (error && error.response) {
    const { status, data } = error.response;
    return { status, data, message: String(error.message) };
  }
  if (error && error.Fault) return { fault: error.Fault };
  if (error instanceof Error) {
    return { message: error.message, code: error.code, error: error.error, name: error.name };
  }
  return { value: error };
}

function finish() {
  process.stdout.write(JSON.stringify(results));
}

module.exports = {
  OAuthClient, base, clientId, clientSecret, redirectUri, oauthClient, consent, connect, chaos,
  step, finish, results,
};
