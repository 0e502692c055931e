// intuit-oauth (npm), Intuit's own Node OAuth client: code exchange, id_token validation, user
// info, refresh and rotation, a superseded refresh token, API calls and their faults through
// makeApiCall, and revoke.
'use strict';

const { OAuthClient, base, connect, chaos, step, finish, oauthClient } = require('./common');

async function main() {
  const { Accounting, OpenId, Email } = OAuthClient.scopes;
  const scope = [Accounting, OpenId, Email];
  let client;
  let realmId;
  let firstRefresh;

  await step('code_exchange', async () => {
    const connected = await connect(scope);
    client = connected.client;
    const token = client.getToken();
    realmId = token.realmId;
    firstRefresh = token.refresh_token;
    return {
      realmId,
      state: token.state,
      has_access: Boolean(token.access_token),
      has_refresh: Boolean(token.refresh_token),
      has_id_token: Boolean(token.id_token),
      expires_in: token.expires_in,
      access_valid: client.isAccessTokenValid(),
    };
  });

  await step('validate_id_token', async () => ({ valid: await client.validateIdToken() }));

  await step('user_info', async () => {
    const info = await client.getUserInfo();
    return { has_sub: Boolean(info.json.sub) };
  });

  await step('api_call', async () => {
    const answer = await client.makeApiCall({
      url: `${base}/v3/company/${realmId}/companyinfo/${realmId}?minorversion=75`,
    });
    return { status: answer.status, company: answer.json.CompanyInfo.CompanyName };
  });

  await step('api_fault', async () => {
    try {
      await client.makeApiCall({ url: `v3/company/${realmId}/customer/987654?minorversion=75` });
    } catch (error) {
      return { name: error.name, code: error.code, message: error.message, fault: error.fault };
    }
    throw new Error('no fault');
  });

  await step('api_throttled', async () => {
    await chaos({ throttle: { count: 1 } });
    try {
      await client.makeApiCall({ url: `v3/company/${realmId}/customer/1?minorversion=75` });
    } catch (error) {
      return { name: error.name, code: error.code, message: error.message };
    }
    throw new Error('not throttled');
  });

  await step('refresh', async () => {
    const before = client.getToken();
    const oldAccess = before.access_token;
    await client.refresh();
    const after = client.getToken();
    return {
      new_access: after.access_token !== oldAccess,
      rotated: after.refresh_token !== firstRefresh,
      realm_kept: after.realmId === realmId,
    };
  });

  await step('superseded_refresh', async () => {
    const stranger = oauthClient();
    try {
      await stranger.refreshUsingToken(firstRefresh);
    } catch (error) {
      return { error: error.error, message: error.message };
    }
    throw new Error('the superseded refresh token worked');
  });

  await step('hard_expiry', async () => {
    // The library's opt-in for the grant's 5-year hard limit
    // (x-include-refresh-token-hard-expires-in: true on token requests).
    const connected = await connect([Accounting], { includeRefreshTokenHardExpiresIn: true });
    const created = connected.client.getToken().x_refresh_token_hard_expires_in;
    await connected.client.refresh();
    return { created, refreshed: connected.client.getToken().x_refresh_token_hard_expires_in };
  });

  await step('revoke', async () => {
    const refreshToken = client.getToken().refresh_token;
    const answer = await client.revoke({ refresh_token: refreshToken });
    let after;
    try {
      await oauthClient().refreshUsingToken(refreshToken);
      after = 'refreshed';
    } catch (error) {
      after = error.error;
    }
    return { status: answer.response.status, refresh_after: after };
  });

  finish();
}

main().catch((error) => {
  process.stderr.write(`${error.stack || error}\n`);
  process.exit(1);
});
