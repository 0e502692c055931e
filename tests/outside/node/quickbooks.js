// node-quickbooks (npm) with tokens from intuit-oauth (npm), as their READMEs pair them: customers,
// queries, get then save, a stale SyncToken, quote to cash, voids and deletes, credit memos,
// refund receipts and PDFs, batch, CDC, throttling, faults, and the library's own refresh and
// revoke.
'use strict';

const QuickBooks = require('node-quickbooks');
const {
  OAuthClient, base, clientId, clientSecret, connect, chaos, step, finish,
} = require('./common');

// node-quickbooks' base URL constants (the API, and the token and revoke endpoints it calls).
QuickBooks.V3_ENDPOINT_BASE_URL = `${base}/v3/company/`;
QuickBooks.TOKEN_URL = `${base}/oauth2/v1/tokens/bearer`;
QuickBooks.REVOKE_URL = `${base}/v2/oauth2/tokens/revoke`;

const SERVICES = '1'; // the demo company's "Services" item

// Promise wrappers over the callback API: [error, data].
function call(qbo, method, ...args) {
  return new Promise((resolve) => {
    qbo[method](...args, (error, data) => resolve([error, data]));
  });
}

async function must(qbo, method, ...args) {
  const [error, data] = await call(qbo, method, ...args);
  if (error) throw error;
  return data;
}

// What the library hands a caller for a QuickBooks fault: an axios error whose response body is
// the Fault, or (for a 200 answer with a Fault) the body itself.
function faultOf(error) {
  const body = (error && error.response && error.response.data) || error;
  const fault = body && body.Fault;
  return {
    status: error && error.response ? error.response.status : 200,
    type: fault && fault.type,
    code: fault && fault.Error[0].code,
    message: fault && fault.Error[0].Message,
    detail: fault && fault.Error[0].Detail,
  };
}

async function failing(qbo, method, ...args) {
  const [error] = await call(qbo, method, ...args);
  if (!error) throw new Error(`${method} did not fail`);
  return faultOf(error);
}

function line(amount, qty) {
  return {
    Amount: amount,
    DetailType: 'SalesItemLineDetail',
    Description: 'Garden work',
    SalesItemLineDetail: { ItemRef: { value: SERVICES }, Qty: qty, UnitPrice: amount / qty },
  };
}

async function main() {
  const { client } = await connect([OAuthClient.scopes.Accounting]);
  const token = client.getToken();
  const qbo = new QuickBooks(
    clientId, clientSecret, token.access_token, false, token.realmId,
    true, false, 75, '2.0', token.refresh_token,
  );

  const newCustomer = (name) => must(qbo, 'createCustomer', { DisplayName: name });
  const newInvoice = (customer, amount) =>
    must(qbo, 'createInvoice', { CustomerRef: { value: customer.Id }, Line: [line(amount, 1)] });
  const pay = (customer, invoice, amount) =>
    must(qbo, 'createPayment', {
      CustomerRef: { value: customer.Id },
      TotalAmt: amount,
      Line: [{ Amount: amount, LinkedTxn: [{ TxnId: invoice.Id, TxnType: 'Invoice' }] }],
    });

  await step('create_customer', async () => {
    const created = await newCustomer('Outside Node Co');
    const read = await must(qbo, 'getCustomer', created.Id);
    return { id: created.Id, sync_token: created.SyncToken, name: read.DisplayName };
  });

  await step('request_id', async () => {
    // node-quickbooks sends entity.requestId as ?requestid=: a retry must not write twice.
    const body = () => ({ DisplayName: 'Node Request Id', requestId: 'outside-node-1' });
    const first = await must(qbo, 'createCustomer', body());
    const retry = await must(qbo, 'createCustomer', body());
    const found = await must(qbo, 'findCustomers', { DisplayName: 'Node Request Id' });
    return { same: first.Id === retry.Id, count: found.QueryResponse.Customer.length };
  });

  await step('find_apostrophe', async () => {
    const answer = await must(qbo, 'findCustomers', [
      { field: 'DisplayName', value: "O'Brien Plumbing", operator: '=' },
    ]);
    return { names: (answer.QueryResponse.Customer || []).map((c) => c.DisplayName) };
  });

  await step('find_like', async () => {
    const answer = await must(qbo, 'findCustomers', [
      { field: 'DisplayName', value: 'O%', operator: 'LIKE' },
      { field: 'asc', value: 'DisplayName' },
    ]);
    return { names: (answer.QueryResponse.Customer || []).map((c) => c.DisplayName) };
  });

  await step('count', async () => {
    const all = await must(qbo, 'findCustomers', {});
    const counted = await must(qbo, 'findCustomers', { count: true });
    return { total: counted.QueryResponse.totalCount, listed: all.QueryResponse.Customer.length };
  });

  await step('paging', async () => {
    const ids = (answer) => answer.QueryResponse.Customer.map((c) => c.Id);
    const all = ids(await must(qbo, 'findCustomers', [{ field: 'asc', value: 'Id' }]));
    const page2 = ids(await must(qbo, 'findCustomers', [
      { field: 'asc', value: 'Id' }, { field: 'limit', value: 5 }, { field: 'offset', value: 6 },
    ]));
    // fetchAll pages with STARTPOSITION/MAXRESULTS until a short page.
    const fetched = ids(await must(qbo, 'findCustomers', [
      { field: 'asc', value: 'Id' }, { field: 'limit', value: 4 },
      { field: 'fetchAll', value: true },
    ]));
    return { all, page2, fetched };
  });

  await step('get_then_save', async () => {
    const created = await newCustomer('Node Get Then Save');
    const read = await must(qbo, 'getCustomer', created.Id);
    read.CompanyName = 'Node Get Then Save Ltd';
    const saved = await must(qbo, 'updateCustomer', read);
    const again = await must(qbo, 'getCustomer', created.Id);
    return { sync_token: saved.SyncToken, company: again.CompanyName };
  });

  await step('stale_sync_token', async () => {
    const created = await newCustomer('Node Stale Token');
    const { Id, SyncToken } = created;
    await must(qbo, 'updateCustomer', { Id, SyncToken, Notes: 'first' });
    const fault = await failing(qbo, 'updateCustomer', {
      Id: created.Id, SyncToken: created.SyncToken, Notes: 'second',
    });
    const after = await must(qbo, 'getCustomer', created.Id);
    return { ...fault, notes: after.Notes };
  });

  await step('quote_to_cash', async () => {
    const customer = await newCustomer('Node Quote To Cash');
    const estimate = await must(qbo, 'createEstimate', {
      CustomerRef: { value: customer.Id }, Line: [line(300, 2)],
    });
    const invoice = await must(qbo, 'createInvoice', {
      CustomerRef: { value: customer.Id },
      Line: [line(300, 2)],
      LinkedTxn: [{ TxnId: estimate.Id, TxnType: 'Estimate' }],
    });
    const linked = (await must(qbo, 'getEstimate', estimate.Id)).LinkedTxn || [];
    await pay(customer, invoice, 120);
    return {
      estimate_total: estimate.TotalAmt,
      invoice_balance: invoice.Balance,
      estimate_links: linked.map((t) => [t.TxnId, t.TxnType]),
      invoice_id: invoice.Id,
      balance_after: (await must(qbo, 'getInvoice', invoice.Id)).Balance,
      customer_balance: (await must(qbo, 'getCustomer', customer.Id)).Balance,
    };
  });

  await step('void_payment', async () => {
    const customer = await newCustomer('Node Void Payment');
    const invoice = await newInvoice(customer, 200);
    const payment = await pay(customer, invoice, 200);
    // voidPayment: POST payment?operation=update&include=void with {Id, SyncToken, sparse}.
    await must(qbo, 'voidPayment', { Id: payment.Id, SyncToken: payment.SyncToken });
    return {
      payment_total: (await must(qbo, 'getPayment', payment.Id)).TotalAmt,
      invoice_balance: (await must(qbo, 'getInvoice', invoice.Id)).Balance,
    };
  });

  await step('delete_payment', async () => {
    const customer = await newCustomer('Node Delete Payment');
    const invoice = await newInvoice(customer, 80);
    const payment = await pay(customer, invoice, 80);
    const answer = await must(qbo, 'deletePayment', payment.Id); // reads it, then deletes
    return {
      status: answer.Payment.status,
      read_after: await failing(qbo, 'getPayment', payment.Id),
      invoice_balance: (await must(qbo, 'getInvoice', invoice.Id)).Balance,
    };
  });

  await step('void_sales_receipt', async () => {
    const customer = await newCustomer('Node Sales Receipt');
    const receipt = await must(qbo, 'createSalesReceipt', {
      CustomerRef: { value: customer.Id }, Line: [line(45, 1)],
    });
    // module.update turns `void: true` into ?operation=update&include=void, as for voidPayment.
    const { Id, SyncToken } = receipt;
    await must(qbo, 'updateSalesReceipt', { Id, SyncToken, void: true });
    const voided = await must(qbo, 'getSalesReceipt', Id);
    return { total_before: receipt.TotalAmt, total: voided.TotalAmt, note: voided.PrivateNote };
  });

  await step('credit_memo', async () => {
    const customer = await newCustomer('Node Credit Memo');
    await newInvoice(customer, 100);
    const memo = await must(qbo, 'createCreditMemo', {
      CustomerRef: { value: customer.Id }, Line: [line(30, 1)],
    });
    const read = await must(qbo, 'getCreditMemo', memo.Id);
    const pdf = Buffer.from(await must(qbo, 'getCreditMemoPdf', memo.Id));
    return {
      total: read.TotalAmt,
      remaining: read.RemainingCredit,
      customer_balance: (await must(qbo, 'getCustomer', customer.Id)).Balance,
      pdf_head: pdf.subarray(0, 5).toString('latin1'),
    };
  });

  await step('refund_receipt', async () => {
    const customer = await newCustomer('Node Refund');
    const banks = await must(qbo, 'findAccounts', { AccountType: 'Bank' });
    const refund = await must(qbo, 'createRefundReceipt', {
      CustomerRef: { value: customer.Id },
      DepositToAccountRef: { value: banks.QueryResponse.Account[0].Id },
      PaymentRefNum: '5001',
      Line: [line(45, 1)],
    });
    const read = await must(qbo, 'getRefundReceipt', refund.Id);
    return { total: read.TotalAmt, balance: read.Balance, reference: read.PaymentRefNum };
  });

  await step('invoice_pdf', async () => {
    const customer = await newCustomer('Node Invoice Pdf');
    const invoice = await newInvoice(customer, 125);
    const pdf = Buffer.from(await must(qbo, 'getInvoicePdf', invoice.Id));
    return {
      head: pdf.subarray(0, 5).toString('latin1'),
      tail: pdf.toString('latin1').trimEnd().slice(-5),
      size: pdf.length,
    };
  });

  await step('void_invoice', async () => {
    const customer = await newCustomer('Node Void Invoice');
    const invoice = await newInvoice(customer, 90);
    await must(qbo, 'voidInvoice', invoice.Id);
    const voided = await must(qbo, 'getInvoice', invoice.Id);
    return { total: voided.TotalAmt, balance: voided.Balance, note: voided.PrivateNote };
  });

  await step('delete_invoice', async () => {
    const customer = await newCustomer('Node Delete Invoice');
    const invoice = await newInvoice(customer, 70);
    const { Id, SyncToken } = invoice;
    const answer = await must(qbo, 'deleteInvoice', { Id, SyncToken });
    return { status: answer.Invoice.status, read_after: await failing(qbo, 'getInvoice', Id) };
  });

  await step('batch', async () => {
    const created = await must(qbo, 'batch', [
      { bId: 'c1', operation: 'create', Customer: { DisplayName: 'Node Batch 1' } },
      { bId: 'c2', operation: 'create', Customer: { DisplayName: 'Node Batch 2' } },
      { bId: 'c3', operation: 'create', Customer: { DisplayName: "O'Brien Plumbing" } },
    ]);
    const byId = Object.fromEntries(created.BatchItemResponse.map((r) => [r.bId, r]));
    const one = byId.c1.Customer;
    const updated = await must(qbo, 'batch', [
      {
        bId: 'u1',
        operation: 'update',
        Customer: {
          Id: one.Id, SyncToken: one.SyncToken, sparse: true, CompanyName: 'Batched Ltd',
        },
      },
    ]);
    const invoice = await newInvoice(one, 15);
    const deleted = await must(qbo, 'batch', [
      { bId: 'd1', operation: 'delete', Invoice: { Id: invoice.Id, SyncToken: invoice.SyncToken } },
      { bId: 'q1', Query: "select * from Customer where DisplayName = 'Node Batch 2'" },
    ]);
    const deletes = Object.fromEntries(deleted.BatchItemResponse.map((r) => [r.bId, r]));
    const changed = updated.BatchItemResponse[0].Customer;
    return {
      created: ['c1', 'c2'].map((b) => byId[b].Customer && byId[b].Customer.DisplayName),
      duplicate: byId.c3.Fault && byId.c3.Fault.Error[0].code,
      updated: changed && [changed.CompanyName, changed.SyncToken],
      deleted: deletes.d1.Invoice && deletes.d1.Invoice.status,
      queried: (deletes.q1.QueryResponse.Customer || []).map((c) => c.DisplayName),
      read_after: await failing(qbo, 'getInvoice', invoice.Id),
    };
  });

  await step('batch_void_payment', async () => {
    // A Payment's void in a batch: operation update with optionsData "void" (the include=void of
    // the REST form), as node-quickbooks users send it (mcohen01/node-quickbooks#150).
    const customer = await newCustomer('Node Batch Void');
    const invoice = await newInvoice(customer, 30);
    const payment = await pay(customer, invoice, 30);
    const { Id, SyncToken } = payment;
    const answer = await must(qbo, 'batch', [
      {
        bId: 'v1',
        operation: 'update',
        optionsData: 'void',
        Payment: { Id, SyncToken, sparse: true },
      },
    ]);
    const item = answer.BatchItemResponse[0];
    return {
      fault: item.Fault || null,
      payment_total: (await must(qbo, 'getPayment', Id)).TotalAmt,
      invoice_balance: (await must(qbo, 'getInvoice', invoice.Id)).Balance,
    };
  });

  await step('cdc', async () => {
    const since = new Date(Date.now() - 5 * 60 * 1000);
    const customer = await newCustomer('Node CDC');
    const answer = await must(qbo, 'changeDataCapture', ['Customer', 'Invoice'], since);
    const responses = answer.CDCResponse[0].QueryResponse;
    const customers = responses.flatMap((r) => r.Customer || []);
    return { found: customers.some((c) => c.Id === customer.Id) };
  });

  await step('throttled', async () => {
    await chaos({ throttle: { count: 1 } });
    const [error] = await call(qbo, 'getCustomer', '1');
    const after = await must(qbo, 'getCustomer', '1');
    return {
      status: error && error.response && error.response.status,
      body: error && error.response && String(error.response.data),
      next_ok: after.Id === '1',
    };
  });

  await step('faults', async () => ({
    not_found: await failing(qbo, 'getCustomer', '987654'),
    duplicate: await failing(qbo, 'createCustomer', { DisplayName: "O'Brien Plumbing" }),
    bad_query: await failing(qbo, 'findCustomers', "where DisplayName = 'a' or DisplayName = 'b'"),
  }));

  await step('refresh', async () => {
    const oldAccess = qbo.token;
    const oldRefresh = qbo.refreshToken;
    await must(qbo, 'refreshAccessToken');
    const read = await must(qbo, 'getCustomer', '1');
    return {
      new_access: qbo.token !== oldAccess, rotated: qbo.refreshToken !== oldRefresh, read: read.Id,
    };
  });

  await step('revoke', async () => {
    const [error] = await call(qbo, 'revokeAccess', true); // form-encoded token=<refresh token>
    if (error) throw error;
    return { cleared: qbo.token === null && qbo.refreshToken === null };
  });

  finish();
}

main().catch((error) => {
  process.stderr.write(`${error.stack || error}\n`);
  process.exit(1);
});
