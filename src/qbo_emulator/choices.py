"""Every behaviour the reference marks UNCONFIRMED, decided once, here.

Change a value here and the whole emulator follows. The emulator's README lists the same choices.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Final

# Stale SyncToken (5010): HTTP status not seen in a recording; other ValidationFaults are 400.
STALE_OBJECT_STATUS: Final = 400

# "In use by another user" (locked object): the reference has no single documented code.
LOCKED_CODE: Final = "6000"
LOCKED_MESSAGE: Final = "A business validation error has occurred while processing your request"
LOCKED_DETAIL: Final = (
    "Business Validation Error: This transaction is in use by another user. "
    "Please wait until the other user is done and try again."
)
LOCKED_STATUS: Final = 400

# Plan gating (Inventory items, PurchaseOrder on Essentials): 5020 Permission Denied
# (the M-IPP pattern for SKU-gated features).
PLAN_GATED_CODE: Final = "5020"
PLAN_GATED_MESSAGE: Final = "Permission Denied Error"
PLAN_GATED_STATUS: Final = 400

# requestid: remembered for the life of the company (no expiry); a reused id with a different body
# replays the original response too (no 600 error).
REQUESTID_TTL_SECONDS: Final[int | None] = None
REQUESTID_MAX_LENGTH: Final = 50

# Refresh token rotation. CONFIRMED by Intuit staff: the value changes about once a day ("every
# 24-26 hour period", intuit/oauth-jsclient#74; "every 24-26hrs", IntuitDeveloper/oauth2-nodejs#2),
# and a refresh within that period returns the same value (reporter's observation in #74), whose
# x_refresh_token_expires_in keeps counting down (8721385 < 8726400 in #74): only a new value gets
# a fresh 101 days. Configurable per emulator (`Config.refresh_rotation_seconds`) so tests can
# shorten it.
REFRESH_TOKEN_ROTATION_SECONDS: Final = 86_400
# UNCONFIRMED: what the previous value answers after a rotation. Intuit says both "the previous one
# expires" (help article Validity-of-Refresh-Token, quoted in intuit/QuickBooks-V3-PHP-SDK#324 and
# #454: using it "will throw an invalid_grant error") and, in older text, "previous refresh tokens
# expire 24 hours after you receive a new one" (intuit/oauth-jsclient README; the FAQ as quoted in
# ej2/python-quickbooks#150). No recording shows either. Chosen: the stricter one, refused at once
# with 400 {"error": "invalid_grant"} (Intuit's log says "Refresh token not found", #77).
REFRESH_TOKEN_PREVIOUS_VALID_SECONDS: Final = 0
REFRESH_TOKEN_TTL_SECONDS: Final = 8_726_400  # 101 days, the rolling window QBO reports
# Refresh token hard expiry. CONFIRMED: Intuit's SDK release notes (QuickBooks-V3-Java-SDK v6.5.4,
# QuickBooks-V3-DotNET-SDK V14.7.1.4, QuickBooks-V3-PHP-SDK V6.2.4) say every refresh token now has
# a maximum validity of five years, reported as `x_refresh_token_hard_expires_in` by the token
# endpoint; after it the app must send the user through consent again. Counted from the consent
# (the authorization code exchange); no token of that consent outlives it, and a refresh after it
# is refused with 400 {"error": "invalid_grant"}. UNCONFIRMED: whether the field comes with every
# answer (the SDKs read it on request): the emulator always sends it. Configurable per emulator
# (`Config.refresh_hard_lifetime_seconds`) so tests can bring it near.
REFRESH_TOKEN_HARD_LIFETIME_SECONDS: Final = 5 * 365 * 86_400

# --- Rate limits (reference §1; qbo_emulator/limits.py) ---
# CONFIRMED (limits-and-throttles page): 500 requests a minute per realm; batch requests count
# toward it (Intuit's 2016 concurrency blog).
LIMIT_PER_MINUTE: Final = 500
# CONFIRMED (limits-and-throttles page; 2025-08 blog for sandbox): 10 requests a second per realm
# and app; the 2016 blog words it as at most 10 concurrent requests per realm and app. Modelled
# by default: at most 10 in flight per realm and app. UNCONFIRMED: how QBO measures "a second".
# A strict rolling second here turned the test machine's scheduling delays into 429s (requests
# sent 1.2 s apart were admitted 0.47 s apart after the emulator's event loop stalled), which
# says more about this process than about QBO; so the rolling second is off by default
# (`per_second` 0) and can be switched on per company (admin limits API) where a test wants it.
# rentsync's limiter keeps to 10 a second regardless.
LIMIT_IN_FLIGHT: Final = 10
LIMIT_PER_SECOND: Final = 0
# CONFIRMED (limits-and-throttles page, 2025-08 blog): 40 batch requests a minute per realm and
# app, 120 a minute per realm whatever the app; 30 items a batch, more is fault 1040 "Batch size
# exceeds allowed limit" (code and message from Intuit's fault-code enum). UNCONFIRMED: the HTTP
# status of the 1040 answer (400 like every other validation fault here).
LIMIT_BATCH_PER_MINUTE: Final = 40
LIMIT_REALM_BATCH_PER_MINUTE: Final = 120
LIMIT_BATCH_MAX_ITEMS: Final = 30
# UNCONFIRMED: how long a batch request takes at QBO. Intuit says a batch's items run serially
# (2017 batch blog, reference §6) and publishes no timing. Chosen: the fault plan's latency is
# applied once per HTTP request (`api._guarded`), a batch of 30 items as one request; only the
# emulator's own work grows with the items. A benchmark at 150 ms therefore times a batch at
# about 150 ms; if QBO's time grows with the items, batches are slower there than here.
LATENCY_PER: Final = "request"
# UNCONFIRMED: how QBO counts a minute. Intuit documents "per minute" without the algorithm;
# chosen: a rolling window (a request counts for the 60 s after it arrived; one that arrives
# exactly 60 s after another no longer sees it), the strictest reading, so a client that never
# gets a 429 here gets none from a fixed-window QBO either. A refused request is not counted.
LIMIT_WINDOW: Final = "rolling"
# CONFIRMED by recordings in public issue threads (2016-2024, reference §1): the 429 body is XML
# with code 3001 "ThrottleExceeded", even when JSON was asked for. UNCONFIRMED: a Retry-After
# header (only third-party claims); not sent: the documented advice is "wait 60 seconds".
THROTTLE_SENDS_RETRY_AFTER: Final = False

# DocNumber uniqueness scope: each group is one namespace. Bills, payments and bill payments are not
# checked (QBO only warns in the UI for those).
DOCNUMBER_UNIQUE_GROUPS: Final = (
    frozenset({"Invoice", "CreditMemo", "RefundReceipt"}),
    frozenset({"PurchaseOrder"}),
)
DOCNUMBER_MAX_LENGTH: Final = 21

# Name comparisons (6240 DisplayName, Item/Account Name) and query string matches ignore case.
NAMES_CASE_INSENSITIVE: Final = True
QUERY_STRINGS_CASE_INSENSITIVE: Final = True
# A query on a name-list entity without a condition on Active returns active objects only.
QUERY_DEFAULT_ACTIVE_ONLY: Final = True

# Automated sales tax: the rate AST "looks up" for every AST company (the preset may override it).
AST_DEFAULT_RATE: Final = Decimal("8.25")
# AST mismatch with a sent TxnTaxCodeRef: no error, the code is silently replaced.

# A sales form (Invoice, CreditMemo, RefundReceipt) whose TotalAmt would be below zero (e.g. a
# discount larger than its lines) is refused: 400, 6000 with the detail "Transaction amount must
# be positive". UNCONFIRMED in Intuit's reference (no recording): third-party support articles
# report QuickBooks' message "Transaction amount must be positive" for an invoice with a negative
# total and that QuickBooks does not support invoices below zero (OnTime 360 KB a231); QuickBooks'
# own UI asks for a credit memo instead. 6000 is QBO's generic business-validation code.
NEGATIVE_TOTAL_CODE: Final = "6000"
NEGATIVE_TOTAL_DETAIL: Final = "Transaction amount must be positive"

# Applying more to an invoice/bill than its Balance: rejected with 6000.
OVERPAY_CODE: Final = "6000"

# Voiding an invoice that has payments applied: allowed; the payment lines that link it are removed
# and their amount becomes the payment's UnappliedAmt (the payment's SyncToken increments).
VOID_INVOICE_UNLINKS_PAYMENTS: Final = True

# Batch: items run serially but are independent: an item does not see objects created by earlier
# items of the same batch (a reference to one is 2500, a read/update 610, queries leave it out).
# CONFIRMED by Intuit's batch guidance (B-BATCH: "an item cannot see entities created earlier in
# the same batch"). UNCONFIRMED: name (6240) and DocNumber (6140) uniqueness still see them.
BATCH_ITEMS_SEE_EARLIER_CREATES: Final = False
BATCH_MAX_ITEMS: Final = 30

# 5xx fault injection: status and code of the injected error.
INJECTED_ERROR_STATUS: Final = 503
INJECTED_ERROR_CODE: Final = "10000"

# Time zone of preset companies (MetaData offsets are -08:00 / -07:00).
DEFAULT_TIMEZONE: Final = "America/Los_Angeles"

# minorversion: anything (or nothing) is accepted and served as 75.
MINOR_VERSION: Final = 75

# --- issue 9: fidelity -------------------------------------------------------------------------

# Query WHERE on a property QBO cannot filter on -> 400, 4001 "Invalid query",
# "QueryValidationError: property 'X' is not queryable"; on a property the entity does not have
# (WHERE, select list, ORDERBY) -> "QueryValidationError: Property X not found for Entity Y".
# CONFIRMED wording and refusal (never an empty 200) from live errors quoted in public code:
# "property 'DepartmentRef' is not queryable" (Invoice), "property 'TotalAmt' is not queryable"
# (Deposit), "Property CustomerRef not found for Entity PurchaseOrder", "Property BillAddr not
# found for Entity Customer", Intuit's .NET SDK test comment "Property status not found for Entity
# Customer". The per-entity filterable lists (entities.FILTERABLE) follow Intuit's API reference
# as mirrored by the CData QuickBooks Online driver tables (Items: Name, Active, Type filterable,
# FullyQualifiedName and UnitPrice not; Customers: the name parts, DisplayName, Active); UNCONFIRMED
# entries kept filterable: Item.Sku, Customer PrimaryEmailAddr/Balance/Job/ParentRef, Payment
# PaymentRefNum/TotalAmt, transactions' TotalAmt/Balance/DueDate, TaxRate.RateValue. Property
# names match case-sensitively (UNCONFIRMED).
QUERY_FILTERABLE_SOURCE: Final = "entities.FILTERABLE"

# Line Ids on update: a line sent with the Id of a stored line keeps it; a line without an Id, with
# Id <= 0 or an unknown Id is a new line. CONFIRMED by Intuit's Line.Id reference text ("ID > 0
# and exists: update; no ID / ID <= 0 / ID > 0 but doesn't exist: create", as mirrored in
# Nytely-Official/quickbooks-api src/types/interfaces/base-line.ts). UNCONFIRMED: a new line's Id
# continues above the highest stored line Id (Ids of dropped lines are not reused); LineNum is the
# position.
LINE_IDS_KEPT_ON_UPDATE: Final = True

# Addresses (BillAddr, ShipAddr, VendorAddr, ShipFromAddr, OtherAddr) carry a string Id from their
# own company-wide sequence. CONFIRMED that QBO returns Ids on addresses and that an invoice sent
# without addresses takes the customer's: Intuit's Invoice reference sample (Invoice 130,
# customer 24 "Sonnenschein Family Store") answers ShipAddr {"Id": "25", ...} = the customer's
# address and BillAddr {"Id": "95", ...} = a new address record; client models built from real
# responses (Recursyve/nestjs-quickbooks physical-address.model.ts, HomesUSA-com/Husa.Extensions
# BillAddr.cs) have Id on every address. UNCONFIRMED: QBO formats the copied BillAddr into
# Line1..Line4 (contact, company, street, "City, ST  ZIP"); the emulator copies the customer's
# fields as they are. A sent address keeps its Id only if it is the Id the object already has.
ADDRESS_IDS: Final = True

# Making a Customer, Vendor, Employee, Item or Account inactive renames it "<name> (deleted)", so
# the name is free again (no 6240 for a new object with it). Supported by data shaped on real QBO
# answers (an inactive Account "Mortgage interest (deleted)", FullyQualifiedName "Home office:
# Mortgage interest (deleted)", in public test fixtures) and by the outside testing in issue 9.
# UNCONFIRMED: when "<name> (deleted)" is itself taken the emulator uses "(deleted-1)", "-2", ...;
# making the object active again (with its name unchanged) takes the original name back, and
# fails 6240 if that name has been reused meanwhile.
DEACTIVATION_RENAMES: Final = True

# `select * from TaxAgency` lists the company's agencies (Intuit's TaxAgency reference: query
# "select * from TaxAgency"; python-quickbooks objects/taxagency.py: DisplayName,
# TaxTrackedOnSales, TaxTrackedOnPurchases; CONFIRMED). The implicit "active only" filter of
# name-list queries (QUERY_DEFAULT_ACTIVE_ONLY) hides only objects with Active false, never objects
# without an Active field.

# An Id that is not a number (read by Id, or Id of an update/delete/void) -> 400, 2030 "Invalid
# ID", element "Id", Detail "Invalid ID : Id should be a valid number. Supplied value:<v>".
# The code is QBO's catalogue entry (2030 Invalid ID: reference table, IntuitFaultCodes enum);
# the Detail wording is UNCONFIRMED.
INVALID_ID_CODE: Final = "2030"
# A reference to an object that does not exist -> 2500 "Invalid Reference Id", Detail
# "Invalid Reference Id : <list> element id <n> not found" (<list>: Names for customers, vendors
# and employees, Accounts, Items, Klasses), element "". Wording CONFIRMED as quoted from live
# responses in public code ("Accounts element id 2109 not found", "Names element id 540123582 not
# found", "TaxAgency element id 999999 not found", "Items element id 41 not found"); the empty
# element and the Items/PaymentMethods list names are UNCONFIRMED.
INVALID_REFERENCE_WORDING: Final = "Invalid Reference Id : {list} element id {id} not found"

# Query projections (`select Id, DisplayName from Customer`) answer objects holding only the
# selected properties plus "sparse": true, without "domain"; count(*) answers only "totalCount".
# CONFIRMED by recorded sandbox traffic (hotgluexyz/target-quickbooks-v2 @973cf633, e.g.
# bill_create_invalid_vendor_test: {"sparse":true,"Id":"59","SyncToken":"7","DisplayName":
# "Accenture"} with "startPosition":1,"maxResults":1) and frappe/erpnext#29161 for totalCount.
PROJECTION_SHAPE: Final = ("selected properties", "sparse")

# CDC refuses a changedSince more than 30 days back. CONFIRMED: the 30-day look-back (D-CDC) and
# the Detail, as reported from live QBO in Wish-Org/QuickBooksSharp#19 ("Operation cdc with
# changedSince date {date} which is older than fixed days is not supported."). UNCONFIRMED: the
# code and Message (4001 "Invalid query" chosen).
CDC_TOO_OLD_CODE: Final = "4001"

# Date fields (TxnDate, DueDate, line ServiceDate, ShipDate) sent as date-times are stored and
# answered as dates (HG: "2025-05-27T00:00:00" accepted and stored as a date; CONFIRMED for
# TxnDate/InvStartDate, applied alike to ServiceDate and ShipDate).
DATES_STORED_AS_DATES: Final = True

# A 401 carries `WWW-Authenticate: Bearer realm="Intuit", error="invalid_token"` (CONFIRMED from a
# live sandbox 401 quoted in public notes).
WWW_AUTHENTICATE: Final = 'Bearer realm="Intuit", error="invalid_token"'

# Purchase orders close when billed in full. CONFIRMED: "QuickBooks Online automatically closes a
# PO when all quantities and/or amounts on the PO are accounted for across all of its linked
# transactions" and "you can manually close the PO by changing its status" (Intuit, "How do I
# receive or pay part of a purchase order", quickbooks.intuit.com/in/resources/quickbooks-reports/
# how-do-i-receive-or-pay-part-of-a-purchase-order-to-a-supplier-in-quickbooks-online). Modelled
# on amounts only: the bills linking the PO (LinkedTxn at the bill's top level) add up to its
# TotalAmt; line-level links (TxnLineId) and quantities are not modelled. UNCONFIRMED: that a
# write sending POStatus Closed sets ManuallyClosed (and Open clears it), and that a closed-by-hand
# PO stays closed when a bill is unlinked.
PO_CLOSES_WHEN_BILLED: Final = True
# Purchase orders exist only on Plus (and Advanced). CONFIRMED: "Purchase orders are available in
# QuickBooks Online Plus ... Purchase orders aren't available in QuickBooks Online Essentials or
# Simple Start" (Intuit community article "Purchase orders", community.intuit.com/articles/
# 1145567). The refusal's code and wording (5020, above) remain UNCONFIRMED.
# UNCONFIRMED: a Bill's links to its BillPayments belong to the payments: an update of the bill
# that sends LinkedTxn (e.g. only its PurchaseOrder) keeps them, and the bill's Balance with
# them. Intuit's Bill reference lists LinkedTxn as the bill's links to other transactions; what an
# update sending a shorter list does to payment links is not documented. Chosen: kept, because a
# BillPayment applied to a bill can only be removed by changing or deleting the BillPayment.
PAYMENT_LINKS_OWNED_BY_PAYMENTS: Final = True

# A journal entry whose debits and credits differ is refused. CONFIRMED that QBO refuses it (a
# journal entry must balance; Intuit's JournalEntry reference). UNCONFIRMED: the code (6000) and
# the Detail wording.
JOURNAL_UNBALANCED_CODE: Final = "6000"

# Invoice DueDate: the DueDate sent; else from the invoice's SalesTermRef, else the customer's
# SalesTermRef (which the invoice then carries); else the TxnDate. STANDARD terms add DueDays;
# DATE_DRIVEN terms fall due on DayOfMonthDue (the month's last day when shorter), next month when
# issued after it or fewer than DueNextMonthDays before it. CONFIRMED: Term's fields and types
# (Intuit's Term reference as mirrored in the CData/Mescius QBO driver's Terms table: Type,
# DueDays, DayOfMonthDue, DueNextMonthDays; quickbooks-types term.rs citing
# developer.intuit.com .../all-entities/term) and that an invoice's due date follows its terms.
# UNCONFIRMED: the exact date-driven boundary. A new company holds "Due on receipt", "Net 15",
# "Net 30", "Net 60" (QBO's seeded terms; seeded last so other preset Ids are unchanged).
DUE_DATE_FROM_TERMS: Final = True

# Customer.Balance (and BalanceWithJobs, adding sub-customers') = open invoice balances - credit
# memos' remaining credit - payments' unapplied amounts, in the customer's currency. Refund and
# sales receipts and estimates do not change it. CONFIRMED: Balance is the customer's open balance,
# read-only (Intuit's Customer reference: "Specifies the open balance amount or the amount unpaid
# by the customer"). UNCONFIRMED: the customer's SyncToken does not move when its balance does; a
# Balance sent on create (an opening balance) is ignored rather than turned into an invoice.
CUSTOMER_BALANCE_MAINTAINED: Final = True

# Entities a realistic company holds: Term, Class, Department, CustomerType (named lists: a unique
# Name, made inactive rather than deleted; Class/Department nest through ParentRef, named
# "Parent:Child"), SalesReceipt (paid at once into DepositToAccountRef, default Undeposited
# Funds), Estimate (TxnStatus Pending, no Balance), JournalEntry, Deposit, VendorCredit (Balance)
# and Purchase (PaymentType Cash/Check/CreditCard from AccountRef; EntityRef with its type), all
# deletable transactions. CONFIRMED: the entities, their required fields and which are name lists
# (Intuit's API reference as mirrored in python-quickbooks objects/: term.py, klass.py,
# department.py, customertype.py, salesreceipt.py, estimate.py, journalentry.py, deposit.py,
# vendorcredit.py, purchase.py). UNCONFIRMED: the codes for an unknown Type/PaymentType (2120).

# Multicurrency. The home currency is CompanyInfo/Preferences CurrencyPrefs.HomeCurrency (USD, CAD
# for a Canadian company, or the preset's `currency`); CurrencyPrefs.MultiCurrencyEnabled is the
# preset's `multicurrency`. A customer or vendor has a CurrencyRef (the home currency unless
# multicurrency is on), fixed once it exists; a transaction is in its customer's or vendor's
# currency, with ExchangeRate (1 for the home currency; else the rate sent, else
# DEFAULT_EXCHANGE_RATES), HomeTotalAmt and HomeBalance = amount x ExchangeRate. CONFIRMED:
# Intuit's own sample invoice response (intuit-api docs, custom fields use case, Invoice 801)
# carries "CurrencyRef", "ExchangeRate": 1, "LinkedTxn": [], "HomeTotalAmt" and "HomeBalance" for
# a home-currency invoice, lines without LinkedTxn; Intuit's reference documents ExchangeRate and
# HomeBalance as valid only when multicurrency is enabled (so they are answered only then),
# CurrencyPrefs.MultiCurrencyEnabled/HomeCurrency, and that a name's currency cannot be changed
# once it has transactions (UNCONFIRMED here: fixed from creation). UNCONFIRMED: the code and
# wording when a transaction's CurrencyRef differs from its name's, or a foreign currency is used
# without multicurrency (6000 chosen); the default rates below (illustrative, not market rates).
MULTICURRENCY: Final = True
CURRENCY_REFUSED_CODE: Final = "6000"
DEFAULT_EXCHANGE_RATES: Final = {
    "USD": Decimal("1.00"), "CAD": Decimal("0.74"), "EUR": Decimal("1.08"),
    "GBP": Decimal("1.27"), "AUD": Decimal("0.66"), "MXN": Decimal("0.055"),
}  # fmt: skip

# Canadian companies (Preset country "CA"): each sales line names a tax code Id (TaxCodeRef), never
# TAX/NON, and no TxnTaxCodeRef applies; tax is one TaxLine per rate over the lines carrying it,
# on their amounts less their prorated share of any discount (discounts come before tax);
# GlobalTaxCalculation defaults to TaxExcluded. The preset holds GST 5 %, HST ON 13 %, PST BC 7 %,
# GST/PST BC, Zero-rated and Exempt. CONFIRMED: line-level TaxCodeRef with tax code Ids in
# Canadian companies (Intuit's global tax model; a Quebec company's integration notes list
# TaxCodeRef values such as "9" for GST/QST on each line) and the federal/provincial rates (CRA).
# UNCONFIRMED: the refusal of a line without a tax code (6000 "Make sure all your transactions
# have a sales tax rate") and the rounding (each rate's tax rounded once, over its lines' total).
CANADIAN_TAX_CODES: Final = ("GST", "HST ON", "PST BC", "GST/PST BC", "Zero-rated", "Exempt")
LINE_TAX_CODE_MISSING_CODE: Final = "6000"
